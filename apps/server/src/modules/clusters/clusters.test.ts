import type { Cluster, ClusterList, CreateClusterResponse } from '@niro/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, createUserWithToken, type TestApp, type TestUser } from '../../test-support/app.js';
import { postEnroll } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';

type ErrorReply = { error: { code: string; message: string; details?: { fields?: { field: string }[] } } };

describeEachDatabase('clusters API', (dialect) => {
  let t: TestApp;
  /** Org A: owner, admin, member, viewer. Org B: its own owner. */
  let owner: TestUser;
  let adminA: TestUser;
  let memberA: TestUser;
  let viewerA: TestUser;
  let ownerB: TestUser;

  beforeAll(async () => {
    t = await createTestApp(dialect);
    owner = await createUserWithToken(t.services, { role: 'owner', orgName: 'org-a' });
    adminA = await createUserWithToken(t.services, { role: 'admin', orgId: owner.orgId });
    memberA = await createUserWithToken(t.services, { role: 'member', orgId: owner.orgId });
    viewerA = await createUserWithToken(t.services, { role: 'viewer', orgId: owner.orgId });
    ownerB = await createUserWithToken(t.services, { role: 'owner', orgName: 'org-b' });
  });
  afterAll(() => t.dispose());

  const call = (user: TestUser | null, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: user === null ? {} : bearer(user.token),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  async function create(user: TestUser, payload: Record<string, unknown>): Promise<CreateClusterResponse> {
    const res = await call(user, 'POST', '/api/v1/clusters', payload);
    expect(res.statusCode, res.body).toBe(201);
    return res.json<CreateClusterResponse>();
  }

  const row = (id: string) =>
    t.services.database.db.selectFrom('clusters').selectAll().where('id', '=', id).executeTakeFirst();
  const names = (res: { json: <T>() => T }) => res.json<ClusterList>().items.map((c) => c.name);
  const fieldsOf = (res: { json: <T>() => T }) =>
    (res.json<ErrorReply>().error.details?.fields ?? []).map((f) => f.field);

  describe('create', () => {
    it('creates a pending cluster in the caller’s only org, defaulting the environment', async () => {
      const { cluster, enrollment } = await create(memberA, { name: 'create-default' });
      expect(cluster).toEqual({
        id: expect.any(String) as unknown,
        orgId: owner.orgId,
        name: 'create-default',
        environment: 'unspecified',
        labels: {},
        status: 'pending',
        statusChangedAt: new Date(t.clock.now()).toISOString(),
        createdAt: new Date(t.clock.now()).toISOString(),
        enrolledAt: null,
        lastHeartbeatAt: null,
        agentVersion: null,
        kubernetesVersion: null,
        distribution: null,
        capabilities: null,
        summary: {
          nodesTotal: 0,
          nodesReady: 0,
          podsTotal: 0,
          podsRunning: 0,
          podsPending: 0,
          podsFailed: 0,
          cpuCapacityMilli: 0,
          memoryCapacityBytes: 0,
          cpuRequestsMilli: 0,
          memoryRequestsBytes: 0,
          cpuUsageMilli: null,
          memoryUsageBytes: null,
        },
      });
      expect(enrollment.installCommand).toBe(
        `curl -fsSL http://127.0.0.1:8080/install.sh | NIRO_TOKEN=${enrollment.token} sh`,
      );
      const audit = await t.services.database.db
        .selectFrom('audit_log')
        .selectAll()
        .where('target_id', '=', cluster.id)
        .executeTakeFirstOrThrow();
      expect(audit).toMatchObject({
        action: 'cluster.create',
        actor_type: 'token',
        org_id: owner.orgId,
        outcome: 'success',
      });
      expect(audit.details ?? '').not.toContain(enrollment.token);
    });

    it('refuses a duplicate name in the same org with 409, allows it in another org', async () => {
      await create(memberA, { name: 'dup-name', environment: 'dev' });
      const res = await call(adminA, 'POST', '/api/v1/clusters', { name: 'dup-name' });
      expect(res.statusCode).toBe(409);
      expect(res.json<ErrorReply>().error.code).toBe('cluster_name_taken');
      const other = await create(ownerB, { name: 'dup-name' });
      expect(other.cluster.orgId).toBe(ownerB.orgId);
    });

    it('needs orgId when the caller can create in several orgs', async () => {
      const multi = await createUserWithToken(t.services, { role: 'member', orgName: 'multi-1' });
      const second = await t.services.orgs.create('multi-2', null, null);
      await t.services.orgs.addMember(second.id, multi.userId, 'admin');
      const res = await call(multi, 'POST', '/api/v1/clusters', { name: 'multi' });
      expect(res.statusCode).toBe(400);
      expect(res.json<ErrorReply>().error.code).toBe('org_required');
      const { cluster } = await create(multi, { name: 'multi', orgId: second.id });
      expect(cluster.orgId).toBe(second.id);
    });

    it('lets a parent org’s member create in and see a child org; siblings see nothing', async () => {
      const msp = await createUserWithToken(t.services, { role: 'member', orgName: 'msp' });
      const child = await t.services.orgs.create('msp-customer-1', msp.orgId, null);
      const sibling = await t.services.orgs.create('msp-customer-2', msp.orgId, null);
      const siblingUser = await createUserWithToken(t.services, { role: 'owner', orgId: sibling.id });
      const { cluster } = await create(msp, { name: 'in-child', orgId: child.id });
      expect(cluster.orgId).toBe(child.id);
      expect(names(await call(msp, 'GET', '/api/v1/clusters'))).toEqual(['in-child']);
      expect(names(await call(siblingUser, 'GET', '/api/v1/clusters'))).toEqual([]);
      expect((await call(siblingUser, 'GET', `/api/v1/clusters/${cluster.id}`)).statusCode).toBe(404);
      expect(names(await call(ownerB, 'GET', '/api/v1/clusters'))).not.toContain('in-child');
    });

    it('answers 404 for an org the caller cannot see, 403 for a viewer', async () => {
      const invisible = await call(memberA, 'POST', '/api/v1/clusters', { name: 'sneaky', orgId: ownerB.orgId });
      expect(invisible.statusCode).toBe(404);
      const viewer = await call(viewerA, 'POST', '/api/v1/clusters', { name: 'viewer-made' });
      expect(viewer.statusCode).toBe(403);
      const viewerWithOrg = await call(viewerA, 'POST', '/api/v1/clusters', {
        name: 'viewer-made',
        orgId: owner.orgId,
      });
      expect(viewerWithOrg.statusCode).toBe(403);
      expect(names(await call(owner, 'GET', '/api/v1/clusters'))).not.toContain('viewer-made');
      expect(names(await call(ownerB, 'GET', '/api/v1/clusters'))).not.toContain('sneaky');
    });

    it('needs authentication', async () => {
      expect((await call(null, 'POST', '/api/v1/clusters', { name: 'anon' })).statusCode).toBe(401);
      expect((await call(null, 'GET', '/api/v1/clusters')).statusCode).toBe(401);
    });

    it.each([
      [{ name: 'Upper-Case' }, 'body.name'],
      [{ name: 'x'.repeat(64) }, 'body.name'],
      [{ name: '' }, 'body.name'],
      [{ name: 42 }, 'body.name'],
      [{}, 'body.name'],
      [{ name: 'ok-name', environment: 'prod' }, 'body.environment'],
      [{ name: 'ok-name', labels: { 'bad key!': 'x' } }, 'body.labels'],
      [{ name: 'ok-name', labels: { '-leading': 'x' } }, 'body.labels'],
      [{ name: 'ok-name', labels: { team: 'not valid value' } }, 'body.labels'],
      [{ name: 'ok-name', labels: { team: 7 } }, 'body.labels'],
      [{ name: 'ok-name', labels: ['a'] }, 'body.labels'],
      [{ name: 'ok-name', color: 'blue' }, 'body.color'],
      [{ name: 'ok-name', orgId: 5 }, 'body.orgId'],
    ])('rejects %j with 400 naming %s and stores nothing', async (payload, field) => {
      const before = names(await call(owner, 'GET', '/api/v1/clusters'));
      const res = await call(owner, 'POST', '/api/v1/clusters', payload);
      expect(res.statusCode).toBe(400);
      const body = res.json<ErrorReply>();
      expect(body.error.message).toContain(field);
      expect(fieldsOf(res).some((f) => f.startsWith(field))).toBe(true);
      expect(names(await call(owner, 'GET', '/api/v1/clusters'))).toEqual(before);
    });

    it('rejects malformed JSON with 400', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/clusters',
        headers: { ...bearer(owner.token), 'content-type': 'application/json' },
        payload: '{"name": "broken"',
      });
      expect(res.statusCode).toBe(400);
      expect(res.json<ErrorReply>().error.code).toBe('invalid_json');
    });
  });

  describe('read, update, delete', () => {
    let prod: Cluster;
    let edge: Cluster;

    beforeAll(async () => {
      prod = (
        await create(owner, {
          name: 'list-prod-1',
          environment: 'production',
          labels: { site: 'lisbon', tier: 'edge' },
        })
      ).cluster;
      edge = (await create(owner, { name: 'list-dev-2', environment: 'dev', labels: { site: 'porto' } })).cluster;
    });

    it('lists visible clusters by name with environment, status, name and label filters', async () => {
      const all = names(await call(viewerA, 'GET', '/api/v1/clusters'));
      expect(all).toEqual([...all].sort());
      expect(all).toEqual(expect.arrayContaining(['list-prod-1', 'list-dev-2']));
      expect(names(await call(viewerA, 'GET', '/api/v1/clusters?environment=production'))).toEqual(['list-prod-1']);
      expect(names(await call(viewerA, 'GET', '/api/v1/clusters?q=LIST-'))).toEqual(['list-dev-2', 'list-prod-1']);
      expect(names(await call(viewerA, 'GET', '/api/v1/clusters?label=site%3Dlisbon'))).toEqual(['list-prod-1']);
      expect(names(await call(viewerA, 'GET', '/api/v1/clusters?label=site%3Dporto&label=tier%3Dedge'))).toEqual([]);
      expect(names(await call(viewerA, 'GET', '/api/v1/clusters?label=tier'))).toEqual(['list-prod-1']);
      expect(names(await call(viewerA, 'GET', '/api/v1/clusters?status=pending&q=list-'))).toHaveLength(2);
      expect(names(await call(viewerA, 'GET', '/api/v1/clusters?status=healthy'))).toEqual([]);
      expect(names(await call(viewerA, 'GET', '/api/v1/clusters?q=100%25'))).toEqual([]);
    });

    it('rejects unknown filter values with 400 naming the parameter', async () => {
      const env = await call(viewerA, 'GET', '/api/v1/clusters?environment=prod');
      expect(env.statusCode).toBe(400);
      expect(env.json<ErrorReply>().error.message).toContain('querystring.environment');
      const status = await call(viewerA, 'GET', '/api/v1/clusters?status=sleepy');
      expect(status.statusCode).toBe(400);
      expect(status.json<ErrorReply>().error.message).toContain('querystring.status');
      const label = await call(viewerA, 'GET', '/api/v1/clusters?label=%3Dvalue');
      expect(label.statusCode).toBe(400);
      expect(label.json<ErrorReply>().error.message).toContain('querystring.label');
    });

    it('gets one cluster', async () => {
      const res = await call(viewerA, 'GET', `/api/v1/clusters/${prod.id}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(prod);
      expect((await call(viewerA, 'GET', '/api/v1/clusters/00000000-0000-7000-8000-000000000000')).statusCode).toBe(
        404,
      );
    });

    it('lists empty nodes, pods, events and workloads before the first heartbeat', async () => {
      for (const part of ['nodes', 'events', 'workloads']) {
        const res = await call(viewerA, 'GET', `/api/v1/clusters/${prod.id}/${part}`);
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual({ items: [] });
      }
      const pods = await call(viewerA, 'GET', `/api/v1/clusters/${prod.id}/pods`);
      expect(pods.json()).toEqual({ items: [], nextCursor: null });
    });

    it('patches name, environment and labels (member+) and audits the change', async () => {
      t.clock.advance(1000);
      const res = await call(memberA, 'PATCH', `/api/v1/clusters/${edge.id}`, {
        name: 'list-dev-2b',
        environment: 'staging',
        labels: { site: 'faro' },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        id: edge.id,
        name: 'list-dev-2b',
        environment: 'staging',
        labels: { site: 'faro' },
      });
      expect((await row(edge.id))?.updated_at).toBe(t.clock.now());
      const audit = await t.services.database.db
        .selectFrom('audit_log')
        .selectAll()
        .where('target_id', '=', edge.id)
        .where('action', '=', 'cluster.update')
        .executeTakeFirstOrThrow();
      expect(JSON.parse(audit.details ?? '{}')).toEqual({
        changes: {
          name: { from: 'list-dev-2', to: 'list-dev-2b' },
          environment: { from: 'dev', to: 'staging' },
          labels: { from: { site: 'porto' }, to: { site: 'faro' } },
        },
      });
      // Keeping its own name is not a conflict.
      expect((await call(memberA, 'PATCH', `/api/v1/clusters/${edge.id}`, { name: 'list-dev-2b' })).statusCode).toBe(
        200,
      );
    });

    it('refuses a rename onto a taken name with 409 and changes nothing', async () => {
      const before = await row(edge.id);
      const res = await call(memberA, 'PATCH', `/api/v1/clusters/${edge.id}`, {
        name: 'list-prod-1',
        environment: 'dev',
      });
      expect(res.statusCode).toBe(409);
      expect(res.json<ErrorReply>().error.code).toBe('cluster_name_taken');
      expect(await row(edge.id)).toEqual(before);
    });

    it.each([
      [{ name: 'N' }, 'body.name'],
      [{ name: 'a'.repeat(64) }, 'body.name'],
      [{ environment: 'qa' }, 'body.environment'],
      [{ labels: { 'white space': 'x' } }, 'body.labels'],
      [{ labels: { ok: 'v'.repeat(64) } }, 'body.labels'],
      [{ environment: 'dev', orgId: 'other' }, 'body.orgId'],
      [{ status: 'healthy' }, 'body.status'],
      [{ name: ['x'] }, 'body.name'],
      [{}, 'body'],
    ])('rejects PATCH %j with 400 naming %s and leaves the row unchanged', async (payload, field) => {
      const before = await row(edge.id);
      const res = await call(owner, 'PATCH', `/api/v1/clusters/${edge.id}`, payload);
      expect(res.statusCode).toBe(400);
      expect(res.json<ErrorReply>().error.message).toContain(field);
      expect(fieldsOf(res).some((f) => f.startsWith(field))).toBe(true);
      expect(await row(edge.id)).toEqual(before);
    });

    it('a viewer reads but cannot patch, delete or issue tokens; a member cannot delete or issue tokens', async () => {
      expect((await call(viewerA, 'GET', `/api/v1/clusters/${prod.id}`)).statusCode).toBe(200);
      const before = await row(prod.id);
      expect((await call(viewerA, 'PATCH', `/api/v1/clusters/${prod.id}`, { environment: 'dev' })).statusCode).toBe(
        403,
      );
      expect((await call(viewerA, 'DELETE', `/api/v1/clusters/${prod.id}`)).statusCode).toBe(403);
      expect((await call(viewerA, 'POST', `/api/v1/clusters/${prod.id}/enrollment-token`)).statusCode).toBe(403);
      expect((await call(memberA, 'DELETE', `/api/v1/clusters/${prod.id}`)).statusCode).toBe(403);
      expect((await call(memberA, 'POST', `/api/v1/clusters/${prod.id}/enrollment-token`)).statusCode).toBe(403);
      expect(await row(prod.id)).toEqual(before);
    });

    it('hides org A’s cluster from org B: 404 everywhere, absent from every list', async () => {
      const before = await row(prod.id);
      for (const [method, path, payload] of [
        ['GET', '', undefined],
        ['PATCH', '', { name: 'stolen' }],
        ['DELETE', '', undefined],
        ['GET', '/nodes', undefined],
        ['GET', '/pods', undefined],
        ['GET', '/events', undefined],
        ['GET', '/workloads', undefined],
        ['POST', '/enrollment-token', undefined],
      ] as const) {
        const res = await call(ownerB, method, `/api/v1/clusters/${prod.id}${path}`, payload);
        expect(res.statusCode, `${method} ${path}`).toBe(404);
        expect(res.json<ErrorReply>().error.code).toBe('not_found');
      }
      expect(await row(prod.id)).toEqual(before);
      expect(names(await call(ownerB, 'GET', '/api/v1/clusters'))).toEqual(['dup-name']);
      const fleet = await call(ownerB, 'GET', '/api/v1/fleet');
      expect(fleet.json<{ clusters: { id: string }[] }>().clusters.map((c) => c.id)).not.toContain(prod.id);
      const pods = await call(ownerB, 'GET', `/api/v1/pods?cluster=${prod.id}`);
      expect(pods.json()).toEqual({ items: [], nextCursor: null });
    });

    it('deletes a cluster with its tokens (admin+), answers 204, then 404', async () => {
      const doomed = await create(adminA, { name: 'doomed' });
      t.clock.advance(1000);
      const res = await call(adminA, 'DELETE', `/api/v1/clusters/${doomed.cluster.id}`);
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');
      expect(await row(doomed.cluster.id)).toBeUndefined();
      const tokens = await t.services.database.db
        .selectFrom('enrollment_tokens')
        .select('id')
        .where('cluster_id', '=', doomed.cluster.id)
        .execute();
      expect(tokens).toEqual([]);
      expect((await call(adminA, 'GET', `/api/v1/clusters/${doomed.cluster.id}`)).statusCode).toBe(404);
      expect((await call(adminA, 'DELETE', `/api/v1/clusters/${doomed.cluster.id}`)).statusCode).toBe(404);
      // ENR-7: the deleted cluster's enrollment token no longer works.
      const reuse = await postEnroll(t, doomed.enrollment.token);
      expect(reuse.statusCode).toBe(401);
      const audit = await t.services.database.db
        .selectFrom('audit_log')
        .select(['action', 'actor_type'])
        .where('target_id', '=', doomed.cluster.id)
        .where('outcome', '=', 'success')
        .orderBy('at')
        .execute();
      expect(audit).toEqual([
        { action: 'cluster.create', actor_type: 'token' },
        { action: 'cluster.delete', actor_type: 'token' },
      ]);
    });
  });

  it('documents every cluster route in the OpenAPI document', async () => {
    const doc = (await t.app.inject('/api/openapi.json')).json<{ paths: Record<string, Record<string, unknown>> }>();
    for (const path of [
      '/api/v1/clusters',
      '/api/v1/clusters/{id}',
      '/api/v1/clusters/{id}/enrollment-token',
      '/api/v1/clusters/{id}/nodes',
      '/api/v1/clusters/{id}/pods',
      '/api/v1/clusters/{id}/events',
      '/api/v1/clusters/{id}/workloads',
      '/api/agent/v1/enroll',
      '/api/v1/fleet',
      '/api/v1/pods',
      '/api/v1/images',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(Object.keys(doc.paths['/api/v1/clusters/{id}'] ?? {}).sort()).toEqual(['delete', 'get', 'patch']);
  });
});
