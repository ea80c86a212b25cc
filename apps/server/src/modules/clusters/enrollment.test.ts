import {
  AGENT_KEY_PREFIX,
  ENROLLMENT_TOKEN_PREFIX,
  type CreateClusterResponse,
  type EnrollResponse,
} from '@niro/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../lib/ids.js';
import { bearer, createTestApp, createUserWithToken, type TestApp, type TestUser } from '../../test-support/app.js';
import { createTestCluster, enrollRequest, postEnroll } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';

const HOUR_MS = 60 * 60 * 1000;

describeEachDatabase('enrollment', (dialect) => {
  let t: TestApp;
  let admin: TestUser;
  /** Every token and key created here, to check none reaches a log line or the audit log. */
  const secrets: string[] = [];
  let clusterSeq = 0;

  beforeAll(async () => {
    t = await createTestApp(dialect, { NIRO_PUBLIC_URL: 'https://niro.example.test' });
    admin = await createUserWithToken(t.services, { role: 'admin' });
    secrets.push(admin.token);
  });
  afterAll(() => t.dispose());

  async function createCluster(name = `enroll-${++clusterSeq}`): Promise<CreateClusterResponse> {
    const created = await createTestCluster(t, { owner: admin, name, environment: 'production' });
    secrets.push(created.enrollment.token);
    return created;
  }

  /** Sends `enrollRequest(token, uid)` (agent 0.1.0 on k3s v1.31.4+k3s1); any answer. */
  async function enroll(token: string, uid?: string) {
    const res = await postEnroll(t, token, uid);
    if (res.statusCode === 200) secrets.push(res.json<EnrollResponse>().agentKey);
    return res;
  }

  const db = () => t.services.database.db;
  const clusterRow = (id: string) =>
    db().selectFrom('clusters').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const tokenRows = (clusterId: string) =>
    db().selectFrom('enrollment_tokens').selectAll().where('cluster_id', '=', clusterId).orderBy('id').execute();

  it('issues a one-hour niro_et_ token with ≥128 random bits and stores only its SHA-256', async () => {
    const { cluster, enrollment } = await createCluster();
    expect(enrollment.token.startsWith(ENROLLMENT_TOKEN_PREFIX)).toBe(true);
    const random = Buffer.from(enrollment.token.slice(ENROLLMENT_TOKEN_PREFIX.length), 'base64url');
    expect(random.length * 8).toBeGreaterThanOrEqual(128);
    expect(enrollment.expiresAt).toBe(new Date(t.clock.now() + HOUR_MS).toISOString());
    expect(enrollment.installCommand).toBe(
      `curl -fsSL https://niro.example.test/install.sh | NIRO_TOKEN=${enrollment.token} sh`,
    );
    const rows = await tokenRows(cluster.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.token_hash).toBe(sha256Hex(enrollment.token));
    expect(JSON.stringify(rows)).not.toContain(enrollment.token.slice(ENROLLMENT_TOKEN_PREFIX.length));
  });

  it('exchanges the token for a niro_ak_ key and records the agent on the cluster', async () => {
    const { cluster, enrollment } = await createCluster();
    t.clock.advance(1000);
    const res = await enroll(enrollment.token, 'uid-exchange');
    expect(res.statusCode).toBe(200);
    const body = res.json<EnrollResponse>();
    expect(body).toEqual({
      clusterId: cluster.id,
      agentKey: expect.stringMatching(/^niro_ak_/) as unknown,
      heartbeatIntervalSeconds: 15,
    });
    expect(Buffer.from(body.agentKey.slice(AGENT_KEY_PREFIX.length), 'base64url').length * 8).toBeGreaterThanOrEqual(
      256,
    );
    const row = await clusterRow(cluster.id);
    expect(row.agent_key_hash).toBe(sha256Hex(body.agentKey));
    expect(row).toMatchObject({
      enrolled_at: t.clock.now(),
      cluster_uid: 'uid-exchange',
      kubernetes_version: 'v1.31.4+k3s1',
      distribution: 'k3s',
      agent_version: '0.1.0',
      status: 'pending',
    });
    const dto = await t.app.inject({ url: `/api/v1/clusters/${cluster.id}`, headers: bearer(admin.token) });
    expect(dto.json()).toMatchObject({
      enrolledAt: new Date(t.clock.now()).toISOString(),
      agentVersion: '0.1.0',
      kubernetesVersion: 'v1.31.4+k3s1',
      distribution: 'k3s',
    });
  });

  it('ENR-1: of 50 concurrent exchanges of one token exactly one wins, and one key is stored', async ({ annotate }) => {
    const { cluster, enrollment } = await createCluster();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => enroll(enrollment.token, `race-${i}`)));
    const ok = results.filter((r) => r.statusCode === 200);
    const refused = results.filter((r) => r.statusCode === 401);
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(49);
    for (const r of refused) expect(r.json()).toMatchObject({ error: { code: 'enrollment_token_invalid' } });
    const winner = ok[0]!.json<EnrollResponse>();
    const row = await clusterRow(cluster.id);
    expect(row.agent_key_hash).toBe(sha256Hex(winner.agentKey));
    const tokens = await tokenRows(cluster.id);
    expect(tokens.filter((r) => r.used_at !== null)).toHaveLength(1);
    const audits = await db()
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'cluster.enroll')
      .where('target_id', '=', cluster.id)
      .execute();
    expect(audits.filter((a) => a.outcome === 'success')).toHaveLength(1);
    expect(audits.filter((a) => a.outcome === 'failure')).toHaveLength(49);
    await annotate(`ENR-1 [${dialect}]: successes=${ok.length} refusals=${refused.length} keys stored=1`);
  });

  it('ENR-2: a token is accepted at 59:59 and refused at 60:01 by the server clock', async () => {
    const early = await createCluster();
    const late = await createCluster();
    t.clock.advance(HOUR_MS - 1000);
    expect((await enroll(early.enrollment.token)).statusCode).toBe(200);
    t.clock.advance(2000);
    const before = await clusterRow(late.cluster.id);
    const res = await enroll(late.enrollment.token);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: { code: 'enrollment_token_invalid' } });
    expect(await clusterRow(late.cluster.id)).toEqual(before);
    expect((await tokenRows(late.cluster.id))[0]?.used_at).toBeNull();
  });

  it('refuses used, unknown and malformed tokens with 401 and changes nothing', async () => {
    const { cluster, enrollment } = await createCluster();
    expect((await enroll(enrollment.token)).statusCode).toBe(200);
    const before = await clusterRow(cluster.id);
    const tokensBefore = await tokenRows(cluster.id);
    for (const token of [enrollment.token, `${ENROLLMENT_TOKEN_PREFIX}unknown`, 'not-a-token', '']) {
      const res = await enroll(token, 'uid-attacker');
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        error: { code: 'enrollment_token_invalid', message: expect.stringContaining('enrollment token') as unknown },
      });
    }
    expect(await clusterRow(cluster.id)).toEqual(before);
    expect(await tokenRows(cluster.id)).toEqual(tokensBefore);
  });

  it('rejects a mistyped or incomplete enrollment request with 400 naming the field', async () => {
    const { enrollment } = await createCluster();
    const missing = await t.app.inject({
      method: 'POST',
      url: '/api/agent/v1/enroll',
      payload: {
        token: enrollment.token,
        agent: { version: '0.1.0' },
        cluster: { kubernetesVersion: 'v1', distribution: 'k3s' },
      },
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json<{ error: { message: string } }>().error.message).toContain('body.cluster.uid');
    const mistyped = await t.app.inject({
      method: 'POST',
      url: '/api/agent/v1/enroll',
      payload: { ...enrollRequest(enrollment.token), agent: { version: 1 } },
    });
    expect(mistyped.statusCode).toBe(400);
    expect(mistyped.json<{ error: { message: string } }>().error.message).toContain('body.agent.version');
    // The token survived both and still works.
    expect((await enroll(enrollment.token)).statusCode).toBe(200);
  });

  it('accepts unknown fields from newer agents', async () => {
    const { enrollment } = await createCluster();
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/agent/v1/enroll',
      payload: { ...enrollRequest(enrollment.token), future: { field: true } },
    });
    expect(res.statusCode).toBe(200);
    secrets.push(res.json<EnrollResponse>().agentKey);
  });

  it('limits the enrollment body to 16 KiB', async () => {
    const { enrollment } = await createCluster();
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/agent/v1/enroll',
      payload: { ...enrollRequest(enrollment.token), padding: 'x'.repeat(17 * 1024) },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: { code: 'body_too_large' } });
    expect((await enroll(enrollment.token)).statusCode).toBe(200);
  });

  it('re-enrollment with a newly issued token replaces the key; older unused tokens stop working', async () => {
    const { cluster, enrollment } = await createCluster();
    t.clock.advance(1000);
    const first = (await enroll(enrollment.token)).json<EnrollResponse>();
    t.clock.advance(1000);

    // As the API client sends it: an empty JSON object.
    const issue = () =>
      t.app.inject({
        method: 'POST',
        url: `/api/v1/clusters/${cluster.id}/enrollment-token`,
        headers: bearer(admin.token),
        payload: {},
      });
    const second = await issue();
    expect(second.statusCode).toBe(201);
    const token2 = second.json<CreateClusterResponse['enrollment']>();
    secrets.push(token2.token);
    expect(token2.token).not.toBe(enrollment.token);
    expect(token2.installCommand).toContain(token2.token);
    t.clock.advance(60_000);
    const third = (await issue()).json<CreateClusterResponse['enrollment']>();
    secrets.push(third.token);
    expect(third.expiresAt).toBe(new Date(t.clock.now() + HOUR_MS).toISOString());

    // The second token was never used but was replaced by the third.
    expect((await enroll(token2.token)).statusCode).toBe(401);
    t.clock.advance(1000);
    const res = await enroll(third.token, 'uid-reinstalled');
    expect(res.statusCode).toBe(200);
    const renewed = res.json<EnrollResponse>();
    expect(renewed.clusterId).toBe(cluster.id);
    expect(renewed.agentKey).not.toBe(first.agentKey);

    const row = await clusterRow(cluster.id);
    expect(row.agent_key_hash).toBe(sha256Hex(renewed.agentKey));
    expect(row.cluster_uid).toBe('uid-reinstalled');
    const oldKeyHolders = await db()
      .selectFrom('clusters')
      .select('id')
      .where('agent_key_hash', '=', sha256Hex(first.agentKey))
      .execute();
    expect(oldKeyHolders).toEqual([]);

    const audit = await db()
      .selectFrom('audit_log')
      .selectAll()
      .where('target_id', '=', cluster.id)
      .where('outcome', '=', 'success')
      .orderBy('id')
      .execute();
    expect(audit.map((a) => a.action)).toEqual([
      'cluster.create',
      'cluster.enroll',
      'cluster.enrollment_token.create',
      'cluster.enrollment_token.create',
      'cluster.enroll',
    ]);
    expect(audit[4]).toMatchObject({ actor_type: 'agent', actor_id: cluster.id, actor_label: cluster.name });
    expect(JSON.parse(audit[4]?.details ?? '{}')).toMatchObject({ reenrolled: true });
  });

  it('audits refusals as anonymous, with the reason and without the token', async () => {
    const { cluster, enrollment } = await createCluster();
    t.clock.advance(HOUR_MS);
    expect((await enroll(enrollment.token)).statusCode).toBe(401);
    const refusal = await db()
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'cluster.enroll')
      .where('target_id', '=', cluster.id)
      .executeTakeFirstOrThrow();
    expect(refusal).toMatchObject({ actor_type: 'anonymous', outcome: 'failure', org_id: cluster.orgId });
    expect(JSON.parse(refusal.details ?? '{}')).toMatchObject({ reason: 'expired' });
  });

  describe('after everything above', () => {
    it('no token or key appears in the logs, the audit log or the stored rows', async () => {
      expect(secrets.length).toBeGreaterThan(10);
      const logs = t.logs.join('');
      const audit = JSON.stringify(await db().selectFrom('audit_log').selectAll().execute());
      const stored =
        JSON.stringify(await db().selectFrom('enrollment_tokens').selectAll().execute()) +
        JSON.stringify(await db().selectFrom('clusters').selectAll().execute());
      for (const secret of secrets) {
        const random = secret.replace(/^niro_[a-z]+_/, '');
        expect(logs.includes(random), 'secret in logs').toBe(false);
        expect(audit.includes(random), 'secret in audit log').toBe(false);
        expect(stored.includes(random), 'secret stored').toBe(false);
      }
    });
  });
});
