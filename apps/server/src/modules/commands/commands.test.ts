import {
  COMMAND_LIMITS,
  type Capabilities,
  type Command,
  type CommandList,
  type CommandResultReply,
  type LongPollReply,
} from '@niro/protocol';
import { DEFAULT_CAPABILITIES, buildFullHeartbeat, generateClusterInventory } from '@niro/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, createUserWithToken, type TestApp, type TestUser } from '../../test-support/app.js';
import { enrollTestCluster, reenrollTestCluster, type EnrolledTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { sendHeartbeat } from '../../test-support/heartbeats.js';

const SECOND = 1000;
const INVENTORY = generateClusterInventory({ nodes: 1, pods: 2, seed: 'commands' });
const MANIFESTS = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n';

type Inject = Awaited<ReturnType<TestApp['app']['inject']>>;

describeEachDatabase('commands', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(async () => {
    await t.dispose();
  });

  const db = () => t.services.database.db;
  let seq = 0;

  /** An enrolled cluster whose agent reported these capabilities in a heartbeat. */
  async function reportingCluster(caps: Partial<Capabilities> = {}, owner?: TestUser): Promise<EnrolledTestCluster> {
    const c = await enrollTestCluster(t, owner === undefined ? {} : { owner });
    await reportCapabilities(c, caps);
    return c;
  }
  async function reportCapabilities(c: EnrolledTestCluster, caps: Partial<Capabilities>): Promise<void> {
    const capabilities = { ...DEFAULT_CAPABILITIES, ...caps };
    await sendHeartbeat(t, c.agentKey, buildFullHeartbeat(INVENTORY, { seq: ++seq, now: t.clock.now(), capabilities }));
  }

  const createRaw = (clusterId: string, token: string, body: unknown): Promise<Inject> =>
    t.app.inject({
      method: 'POST',
      url: `/api/v1/clusters/${clusterId}/commands`,
      headers: bearer(token),
      payload: body as object,
    });

  async function create(c: EnrolledTestCluster, body: Record<string, unknown> = { kind: 'ping' }): Promise<Command> {
    const res = await createRaw(c.clusterId, c.owner.token, body);
    expect(res.statusCode, res.body).toBe(201);
    return res.json<Command>();
  }
  async function get(id: string, token: string): Promise<Command> {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/commands/${id}`, headers: bearer(token) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<Command>();
  }
  const list = (c: EnrolledTestCluster, query = '', token = c.owner.token): Promise<Inject> =>
    t.app.inject({ method: 'GET', url: `/api/v1/clusters/${c.clusterId}/commands${query}`, headers: bearer(token) });
  const cancel = (id: string, token: string): Promise<Inject> =>
    t.app.inject({ method: 'POST', url: `/api/v1/commands/${id}/cancel`, headers: bearer(token) });

  // Agent side
  const pollRaw = (agentKey: string | null, waitSeconds = 0): Promise<Inject> =>
    t.app.inject({
      method: 'GET',
      url: `/api/agent/v1/commands?waitSeconds=${waitSeconds}`,
      headers: agentKey === null ? {} : bearer(agentKey),
    });
  async function poll(agentKey: string): Promise<LongPollReply['commands']> {
    const res = await pollRaw(agentKey);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<LongPollReply>().commands;
  }
  const ack = (agentKey: string, id: string): Promise<Inject> =>
    t.app.inject({ method: 'POST', url: `/api/agent/v1/commands/${id}/ack`, headers: bearer(agentKey) });
  const postResult = (agentKey: string, id: string, body: unknown): Promise<Inject> =>
    t.app.inject({
      method: 'POST',
      url: `/api/agent/v1/commands/${id}/result`,
      headers: bearer(agentKey),
      payload: body as object,
    });
  const storedRow = (id: string) =>
    db().selectFrom('commands').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  it('takes a ping from queued through delivered to succeeded, with its round trip', async () => {
    const c = await reportingCluster();
    const createdAt = t.clock.now();
    const cmd = await create(c, { kind: 'ping' });
    expect(cmd).toMatchObject({
      clusterId: c.clusterId,
      kind: 'ping',
      payload: {},
      state: 'queued',
      createdBy: c.owner.userId,
      createdAt: new Date(createdAt).toISOString(),
      expiresAt: new Date(createdAt + COMMAND_LIMITS.defaultExpirySeconds * SECOND).toISOString(),
      deliveries: 0,
      deliveredAt: null,
      completedAt: null,
      result: null,
      error: null,
      roundTripMs: null,
    });

    t.clock.advance(40);
    expect(await poll(c.agentKey)).toEqual([
      { type: 'command', id: cmd.id, kind: 'ping', payload: {}, issuedAt: cmd.createdAt, expiresAt: cmd.expiresAt },
    ]);
    expect(await get(cmd.id, c.owner.token)).toMatchObject({
      state: 'delivered',
      deliveries: 1,
      deliveredAt: new Date(createdAt + 40).toISOString(),
    });
    expect((await ack(c.agentKey, cmd.id)).statusCode).toBe(204);

    t.clock.advance(210);
    const res = await postResult(c.agentKey, cmd.id, { status: 'succeeded', result: { pong: true } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<CommandResultReply>()).toEqual({ id: cmd.id, state: 'succeeded', recorded: true });
    expect(await get(cmd.id, c.owner.token)).toMatchObject({
      state: 'succeeded',
      completedAt: new Date(createdAt + 250).toISOString(),
      result: { pong: true },
      error: null,
      roundTripMs: 250,
    });

    // One audit entry, with the kind and ids but no payload.
    const audit = await db().selectFrom('audit_log').selectAll().where('target_id', '=', cmd.id).execute();
    expect(audit.map((a) => [a.action, a.actor_type, a.org_id])).toEqual([['command.create', 'token', c.orgId]]);
    expect(JSON.parse(audit[0]?.details ?? 'null')).toEqual({ kind: 'ping', clusterId: c.clusterId });
  });

  it('stores a failed result with its error and keeps the apply payload for the agent', async () => {
    const c = await reportingCluster({ apply: true });
    const cmd = await create(c, { kind: 'apply', payload: { manifests: MANIFESTS, namespace: 'shop', prune: true } });
    const [message] = await poll(c.agentKey);
    expect(message?.payload).toEqual({ manifests: MANIFESTS, namespace: 'shop', prune: true });
    const res = await postResult(c.agentKey, cmd.id, {
      status: 'failed',
      error: { code: 'apply_failed', message: 'configmaps is forbidden' },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(await get(cmd.id, c.owner.token)).toMatchObject({
      state: 'failed',
      result: null,
      error: { code: 'apply_failed', message: 'configmaps is forbidden' },
    });
    const audit = await db().selectFrom('audit_log').select('details').where('target_id', '=', cmd.id).execute();
    expect(JSON.stringify(audit)).not.toContain('ConfigMap');
  });

  it('delivers each cluster its own commands, in creation order, even within one millisecond', async () => {
    const a = await reportingCluster();
    const b = await reportingCluster();
    const created: string[] = [];
    for (let i = 0; i < 6; i++) created.push((await create(a)).id);
    const other = await create(b);
    expect((await poll(a.agentKey)).map((m) => m.id)).toEqual(created);
    expect((await poll(b.agentKey)).map((m) => m.id)).toEqual([other.id]);
    expect(await poll(a.agentKey)).toEqual([]);
  });

  it('hands out at most 20 commands at once and the rest on the next poll', async () => {
    const c = await reportingCluster();
    const created: string[] = [];
    for (let i = 0; i < 23; i++) created.push((await create(c)).id);
    const first = await poll(c.agentKey);
    expect(first.map((m) => m.id)).toEqual(created.slice(0, 20));
    expect((await poll(c.agentKey)).map((m) => m.id)).toEqual(created.slice(20));
  });

  it('redelivers an unacknowledged command after the deadline, and never after an ack', async () => {
    const c = await reportingCluster();
    const cmd = await create(c);
    expect(await poll(c.agentKey)).toHaveLength(1);
    expect(await poll(c.agentKey)).toEqual([]);
    t.clock.advance(59 * SECOND);
    expect(await poll(c.agentKey)).toEqual([]);
    t.clock.advance(1 * SECOND);
    expect((await poll(c.agentKey)).map((m) => m.id)).toEqual([cmd.id]);
    expect(await get(cmd.id, c.owner.token)).toMatchObject({ state: 'delivered', deliveries: 2 });

    expect((await ack(c.agentKey, cmd.id)).statusCode).toBe(204);
    expect((await ack(c.agentKey, cmd.id)).statusCode).toBe(204);
    t.clock.advance(5 * 60 * SECOND);
    expect(await poll(c.agentKey)).toEqual([]);
    expect(await get(cmd.id, c.owner.token)).toMatchObject({ state: 'delivered', deliveries: 2 });
  });

  it('keeps the first result: a repeated one answers 200 and changes nothing', async () => {
    const c = await reportingCluster();
    const cmd = await create(c);
    await poll(c.agentKey);
    t.clock.advance(100);
    const first = await postResult(c.agentKey, cmd.id, { status: 'succeeded', result: { n: 1 } });
    expect(first.json<CommandResultReply>()).toEqual({ id: cmd.id, state: 'succeeded', recorded: true });
    const before = await storedRow(cmd.id);

    t.clock.advance(100);
    for (const body of [
      { status: 'succeeded', result: { n: 1 } },
      { status: 'failed', error: { code: 'x', message: 'late duplicate' } },
    ]) {
      const again = await postResult(c.agentKey, cmd.id, body);
      expect(again.statusCode, again.body).toBe(200);
      expect(again.json<CommandResultReply>()).toEqual({ id: cmd.id, state: 'succeeded', recorded: false });
    }
    expect(await storedRow(cmd.id)).toEqual(before);
    // A finished command is never delivered again, acknowledged or not.
    t.clock.advance(5 * 60 * SECOND);
    expect(await poll(c.agentKey)).toEqual([]);
  });

  it('never delivers a command past its expiry; the job marks it expired and its result is refused', async () => {
    const c = await reportingCluster();
    const queued = await create(c, { kind: 'ping', expiresInSeconds: 10 });
    const delivered = await create(c, { kind: 'ping', expiresInSeconds: 20 });
    const later = await create(c, { kind: 'ping', expiresInSeconds: 3600 });
    // Deliver all three, then leave the first unacknowledged: it would be due for redelivery.
    expect(await poll(c.agentKey)).toHaveLength(3);
    await ack(c.agentKey, delivered.id);
    await ack(c.agentKey, later.id);

    t.clock.advance(61 * SECOND);
    // Before the sweep: not delivered again, shown as expired, result refused.
    expect(await poll(c.agentKey)).toEqual([]);
    expect(await get(queued.id, c.owner.token)).toMatchObject({
      state: 'expired',
      completedAt: new Date(Date.parse(queued.createdAt) + 10 * SECOND).toISOString(),
      roundTripMs: null,
    });
    expect((await storedRow(queued.id)).state).toBe('delivered');
    const refused = await postResult(c.agentKey, delivered.id, { status: 'succeeded' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: { code: 'command_expired' } });

    expect(await t.services.commandExpiryJob.tick()).toBeGreaterThanOrEqual(2);
    expect(await storedRow(queued.id)).toMatchObject({ state: 'expired', completed_at: Date.parse(queued.expiresAt) });
    expect(await storedRow(delivered.id)).toMatchObject({ state: 'expired' });
    expect(await storedRow(later.id)).toMatchObject({ state: 'delivered' });
    const expiredList = (await list(c, '?state=expired')).json<CommandList>();
    expect(expiredList.items.map((i) => i.id)).toEqual([delivered.id, queued.id]);
    // The surviving command still completes.
    expect((await postResult(c.agentKey, later.id, { status: 'succeeded' })).statusCode).toBe(200);
  });

  it('cancels queued and delivered commands: no delivery, no result, one audit entry', async () => {
    const owner = await createUserWithToken(t.services, { role: 'owner' });
    const c = await reportingCluster({}, owner);
    const member = await createUserWithToken(t.services, { role: 'member', orgId: c.orgId });
    const viewer = await createUserWithToken(t.services, { role: 'viewer', orgId: c.orgId });
    const queued = await create(c);
    const res = await cancel(queued.id, member.token);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<Command>()).toMatchObject({
      state: 'cancelled',
      completedAt: new Date(t.clock.now()).toISOString(),
    });
    expect(await poll(c.agentKey)).toEqual([]);

    const delivered = await create(c);
    await poll(c.agentKey);
    expect((await cancel(delivered.id, viewer.token)).statusCode).toBe(403);
    expect((await cancel(delivered.id, member.token)).statusCode).toBe(200);
    const late = await postResult(c.agentKey, delivered.id, { status: 'succeeded' });
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({ error: { code: 'command_cancelled' } });
    t.clock.advance(2 * 60 * SECOND);
    expect(await poll(c.agentKey)).toEqual([]);

    const again = await cancel(delivered.id, member.token);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'command_already_final' } });
    const audit = await db()
      .selectFrom('audit_log')
      .select(['action', 'actor_id'])
      .where('target_id', 'in', [queued.id, delivered.id])
      .where('action', '=', 'command.cancel')
      .execute();
    expect(audit).toHaveLength(2);
  });

  describe('idempotency keys', () => {
    it('returns the first command for a repeated request and refuses a different one', async () => {
      const c = await reportingCluster({ apply: true });
      const body = { kind: 'apply', payload: { manifests: MANIFESTS, namespace: 'shop' }, idempotencyKey: 'deploy-7' };
      const first = await create(c, body);
      // Same request with keys in another order: the same command, 200.
      const repeat = await createRaw(c.clusterId, c.owner.token, {
        idempotencyKey: 'deploy-7',
        payload: { namespace: 'shop', manifests: MANIFESTS },
        kind: 'apply',
      });
      expect(repeat.statusCode, repeat.body).toBe(200);
      expect(repeat.json<Command>().id).toBe(first.id);

      for (const other of [
        { ...body, payload: { manifests: MANIFESTS, namespace: 'other' } },
        { kind: 'diff', payload: body.payload, idempotencyKey: 'deploy-7' },
      ]) {
        const res = await createRaw(c.clusterId, c.owner.token, other);
        expect(res.statusCode).toBe(409);
        expect(res.json()).toMatchObject({ error: { code: 'idempotency_conflict', details: { commandId: first.id } } });
      }
      // Keys are per cluster.
      const d = await reportingCluster({ apply: true }, c.owner);
      expect((await create(d, body)).id).not.toBe(first.id);
      expect((await list(c)).json<CommandList>().items).toHaveLength(1);
    });

    it('creates one command when the same request races itself', async () => {
      const c = await reportingCluster();
      const body = { kind: 'ping', idempotencyKey: 'race' };
      const replies = await Promise.all(Array.from({ length: 6 }, () => createRaw(c.clusterId, c.owner.token, body)));
      expect(replies.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 201]);
      expect(new Set(replies.map((r) => r.json<Command>().id)).size).toBe(1);
      const audits = await db()
        .selectFrom('audit_log')
        .select('id')
        .where('action', '=', 'command.create')
        .where('target_id', '=', replies[0]?.json<Command>().id ?? '')
        .execute();
      expect(audits).toHaveLength(1);
    });
  });

  describe('capabilities', () => {
    it('refuses a kind whose capability the cluster reports as off, saying how to enable it', async () => {
      const c = await reportingCluster({ apply: false, logs: false, selfUpdate: false });
      for (const [kind, payload, envVar] of [
        ['apply', { manifests: MANIFESTS }, 'NIRO_ENABLE_APPLY=1'],
        ['delete', { deploymentId: 'd1' }, 'NIRO_ENABLE_APPLY=1'],
        ['logs', { streamId: 's1', namespace: 'shop', pod: 'api-0' }, 'NIRO_ENABLE_LOGS=1'],
        ['self-update', { image: 'ghcr.io/niro/agent:0.2.0' }, 'NIRO_ENABLE_SELF_UPDATE=1'],
      ] as const) {
        const res = await createRaw(c.clusterId, c.owner.token, { kind, payload });
        expect(res.statusCode, kind).toBe(409);
        const { error } = res.json<{ error: { code: string; message: string } }>();
        expect(error.code).toBe('capability_disabled');
        expect(error.message).toContain(envVar);
      }
      expect((await list(c)).json<CommandList>().items).toEqual([]);

      // Granted later: the next heartbeat reports it and the same request goes through.
      await reportCapabilities(c, { apply: true });
      expect((await create(c, { kind: 'apply', payload: { manifests: MANIFESTS } })).state).toBe('queued');
    });

    it('refuses gated kinds before the first heartbeat, but not ping', async () => {
      const c = await enrollTestCluster(t);
      const res = await createRaw(c.clusterId, c.owner.token, { kind: 'diff', payload: { manifests: MANIFESTS } });
      expect(res.statusCode).toBe(409);
      expect(res.json()).toMatchObject({ error: { code: 'capability_disabled' } });
      expect((await create(c, { kind: 'ping' })).state).toBe('queued');
    });
  });

  describe('access', () => {
    it('lets viewers read but not create; hides everything from other organizations', async () => {
      const c = await reportingCluster();
      const cmd = await create(c);
      const viewer = await createUserWithToken(t.services, { role: 'viewer', orgId: c.orgId });
      const refused = await createRaw(c.clusterId, viewer.token, { kind: 'ping' });
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ error: { code: 'forbidden' } });
      expect((await get(cmd.id, viewer.token)).id).toBe(cmd.id);
      expect((await list(c, '', viewer.token)).statusCode).toBe(200);

      const stranger = await createUserWithToken(t.services, { role: 'owner' });
      for (const res of [
        await createRaw(c.clusterId, stranger.token, { kind: 'ping' }),
        await t.app.inject({ method: 'GET', url: `/api/v1/commands/${cmd.id}`, headers: bearer(stranger.token) }),
        await list(c, '', stranger.token),
        await cancel(cmd.id, stranger.token),
        await t.app.inject({ method: 'GET', url: '/api/v1/commands/no-such-id', headers: bearer(c.owner.token) }),
      ]) {
        expect(res.statusCode).toBe(404);
        expect(res.json()).toMatchObject({ error: { code: 'not_found' } });
      }
      expect((await get(cmd.id, c.owner.token)).state).toBe('queued');
      expect((await t.app.inject({ method: 'GET', url: `/api/v1/commands/${cmd.id}` })).statusCode).toBe(401);
    });

    it('takes agent keys only, and only the current one, on the agent routes', async () => {
      const c = await reportingCluster();
      const cmd = await create(c);
      for (const res of [
        await pollRaw(null),
        await pollRaw('niro_ak_not-a-real-key'),
        await pollRaw(c.owner.token),
        await t.app.inject({
          method: 'POST',
          url: `/api/agent/v1/commands/${cmd.id}/result`,
          headers: { cookie: 'niro_session=whatever' },
          payload: { status: 'succeeded' },
        }),
      ]) {
        expect(res.statusCode).toBe(401);
        expect(res.json()).toMatchObject({ error: { code: 'invalid_agent_key' } });
      }
      // The heartbeat has seen the old key; after re-enrollment it must not take commands.
      const newKey = await reenrollTestCluster(t, c);
      expect((await pollRaw(c.agentKey)).statusCode).toBe(401);
      expect((await poll(newKey)).map((m) => m.id)).toEqual([cmd.id]);
    });

    it('removes the commands of a deleted cluster with it', async () => {
      const c = await reportingCluster();
      const cmd = await create(c);
      const res = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/clusters/${c.clusterId}`,
        headers: bearer(c.owner.token),
      });
      expect(res.statusCode, res.body).toBe(204);
      const gone = await t.app.inject({
        method: 'GET',
        url: `/api/v1/commands/${cmd.id}`,
        headers: bearer(c.owner.token),
      });
      expect(gone.statusCode).toBe(404);
      expect(await db().selectFrom('commands').select('id').where('cluster_id', '=', c.clusterId).execute()).toEqual(
        [],
      );
      expect((await pollRaw(c.agentKey)).statusCode).toBe(401);
    });

    it("answers 404 for another cluster's command and changes nothing", async () => {
      const a = await reportingCluster();
      const b = await reportingCluster();
      const cmd = await create(a);
      await poll(a.agentKey);
      const before = await storedRow(cmd.id);
      for (const res of [
        await ack(b.agentKey, cmd.id),
        await postResult(b.agentKey, cmd.id, { status: 'succeeded' }),
        await postResult(b.agentKey, 'no-such-command', { status: 'succeeded' }),
      ]) {
        expect(res.statusCode).toBe(404);
      }
      expect(await storedRow(cmd.id)).toEqual(before);
    });
  });

  describe('refuses bad input, naming the field, and stores nothing', () => {
    let c: EnrolledTestCluster;
    beforeAll(async () => {
      c = await reportingCluster({ apply: true, logs: true, selfUpdate: true });
    });

    it.each([
      ['an unknown kind', { kind: 'reboot' }, 'body.kind'],
      ['an apply without manifests', { kind: 'apply', payload: { namespace: 'shop' } }, 'body.payload.manifests'],
      ['a mistyped field', { kind: 'apply', payload: { manifests: MANIFESTS, prune: 'yes' } }, 'body.payload.prune'],
      ['an unknown payload field', { kind: 'ping', payload: { loud: true } }, 'body.payload.loud'],
      [
        'a negative tailLines',
        { kind: 'logs', payload: { streamId: 's', namespace: 'n', pod: 'p', tailLines: -1 } },
        'body.payload.tailLines',
      ],
      ['a self-update without image', { kind: 'self-update', payload: {} }, 'body.payload.image'],
      ['a payload that is not an object', { kind: 'ping', payload: [] }, 'body.payload'],
      ['a too short expiry', { kind: 'ping', expiresInSeconds: 1 }, 'body.expiresInSeconds'],
      ['an unknown field', { kind: 'ping', priority: 1 }, 'body.priority'],
    ])('%s', async (_name, body, field) => {
      const res = await createRaw(c.clusterId, c.owner.token, body);
      expect(res.statusCode, res.body).toBe(400);
      const { error } = res.json<{ error: { code: string; details: { fields: { field: string }[] } } }>();
      expect(error.code).toBe('invalid_request');
      expect(error.details.fields.map((f) => f.field)).toContain(field);
      expect((await list(c)).json<CommandList>().items).toEqual([]);
    });

    it('refuses a payload over the limit with 413', async () => {
      const manifests = 'x'.repeat(COMMAND_LIMITS.payloadBytes);
      const res = await createRaw(c.clusterId, c.owner.token, { kind: 'apply', payload: { manifests } });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toMatchObject({ error: { code: 'command_payload_too_large' } });
      expect((await list(c)).json<CommandList>().items).toEqual([]);
    });

    it('refuses a result over the limit with 413 and a malformed one with 400', async () => {
      const cmd = await create(c);
      await poll(c.agentKey);
      const big = await postResult(c.agentKey, cmd.id, {
        status: 'succeeded',
        result: { text: 'y'.repeat(COMMAND_LIMITS.resultBytes) },
      });
      expect(big.statusCode).toBe(413);
      expect(big.json()).toMatchObject({ error: { code: 'command_result_too_large' } });
      const bad = await postResult(c.agentKey, cmd.id, { status: 'done' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ error: { code: 'invalid_request' } });
      expect((await get(cmd.id, c.owner.token)).state).toBe('delivered');
    });
  });

  it('lists a cluster’s commands newest first in keyset pages, filtered by state and kind', async () => {
    const c = await reportingCluster({ apply: true });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create(c)).id);
    const diff = await create(c, { kind: 'diff', payload: { manifests: MANIFESTS } });
    await cancel(ids[0] ?? '', c.owner.token);
    const newestFirst = [diff.id, ...[...ids].reverse()];

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`;
      const page: CommandList = (await list(c, query)).json<CommandList>();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual(newestFirst);

    expect((await list(c, '?kind=diff')).json<CommandList>().items.map((i) => i.id)).toEqual([diff.id]);
    expect((await list(c, '?state=cancelled')).json<CommandList>().items.map((i) => i.id)).toEqual([ids[0]]);
    expect((await list(c, '?state=queued')).json<CommandList>().items).toHaveLength(5);
    const bad = await list(c, '?cursor=abc');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'invalid_cursor' } });
  });

  it('documents every command route in the OpenAPI document', async () => {
    const doc = (await t.app.inject('/api/openapi.json')).json<{
      paths: Record<string, Record<string, { tags?: string[] }>>;
    }>();
    const expected: [string, string, string][] = [
      ['/api/v1/clusters/{id}/commands', 'post', 'commands'],
      ['/api/v1/clusters/{id}/commands', 'get', 'commands'],
      ['/api/v1/commands/{id}', 'get', 'commands'],
      ['/api/v1/commands/{id}/cancel', 'post', 'commands'],
      ['/api/agent/v1/commands', 'get', 'agent'],
      ['/api/agent/v1/commands/{id}/ack', 'post', 'agent'],
      ['/api/agent/v1/commands/{id}/result', 'post', 'agent'],
    ];
    for (const [path, method, tag] of expected)
      expect(doc.paths[path]?.[method]?.tags, `${method} ${path}`).toEqual([tag]);
  });
});
