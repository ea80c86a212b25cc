import type {
  AuditPage,
  EvaluatePolicyResponse,
  FindingPage,
  StoredFinding,
  Suppression,
  SuppressionList,
  Workload,
} from '@niro/protocol';
import { buildFullHeartbeat, generateClusterInventory } from '@niro/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, createTestApp, createUserWithToken, type TestApp, type TestUser } from '../../test-support/app.js';
import { enrollTestCluster, type EnrolledTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { sendHeartbeat } from '../../test-support/heartbeats.js';

const HOUR_MS = 60 * 60 * 1000;
const WEB = { kind: 'Deployment', namespace: 'shop', name: 'web' };

/** A Deployment whose only runtime finding of note is its `:latest` image (mutable-image-tag). */
function web(image: string): Workload {
  return {
    ...WEB,
    kind: 'Deployment',
    replicas: 2,
    readyReplicas: 2,
    updatedReplicas: 2,
    availableReplicas: 2,
    generation: 1,
    observedGeneration: 1,
    revisionHistoryLimit: 10,
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        automountServiceAccountToken: false,
        serviceAccountName: 'web',
        securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'web',
            image,
            ports: [{ containerPort: 8080 }],
            resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
            readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
            livenessProbe: { httpGet: { path: '/live', port: 8080 } },
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              runAsNonRoot: true,
              capabilities: { drop: ['ALL'] },
            },
          },
        ],
      },
    },
  };
}

describeEachDatabase('suppressions of runtime findings', (dialect) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(dialect);
  });

  afterAll(async () => {
    await t.dispose();
  });

  /** A production cluster whose `shop/web` Deployment runs `nginx:latest`, its findings stored. */
  async function clusterWithFinding(owner?: TestUser): Promise<EnrolledTestCluster> {
    const c = await enrollTestCluster(t, { environment: 'production', ...(owner === undefined ? {} : { owner }) });
    const inv = generateClusterInventory({ nodes: 1, pods: 4, seed: `suppressions-${c.clusterId}` });
    const withWeb = { ...inv, workloads: [...inv.workloads, web('nginx:latest')] };
    await sendHeartbeat(t, c.agentKey, buildFullHeartbeat(withWeb, { seq: 1, now: t.clock.now() }));
    await t.services.findings.idle();
    return c;
  }

  /** The mutable-image-tag findings of shop/web in a cluster, in one state. */
  async function imageFindings(token: string, clusterId: string, state = 'open'): Promise<StoredFinding[]> {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/findings?cluster=${clusterId}&state=${state}&severity=info&limit=1000`,
      headers: bearer(token),
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<FindingPage>().items.filter((f) => f.ruleId === 'mutable-image-tag' && f.object.name === 'web');
  }

  const suppress = (token: string, payload: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/api/v1/policy/suppressions', headers: bearer(token), payload });

  const remove = (token: string, id: string) =>
    t.app.inject({ method: 'DELETE', url: `/api/v1/policy/suppressions/${id}`, headers: bearer(token) });

  const list = async (token: string, query = ''): Promise<Suppression[]> => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/policy/suppressions${query}`,
      headers: bearer(token),
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<SuppressionList>().items;
  };

  const auditEntries = async (token: string, action: string) => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/audit?action=${action}`, headers: bearer(token) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<AuditPage>().items;
  };

  type ErrorBody = { error?: { details?: { fields?: { field: string }[] } } };
  const fieldsOf = (res: { json<T>(): T }): string[] =>
    (res.json<ErrorBody>().error?.details?.fields ?? []).map((f) => f.field);

  it('creates a suppression (201), records rule, object and reason in the audit log, and lists it', async () => {
    const c = await clusterWithFinding();
    const res = await suppress(c.owner.token, {
      ruleId: 'mutable-image-tag',
      object: WEB,
      clusterId: c.clusterId,
      reason: 'nginx:latest is rebuilt nightly by our own pipeline',
    });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json<Suppression>();
    expect(created).toMatchObject({
      orgId: c.orgId,
      clusterId: c.clusterId,
      ruleId: 'mutable-image-tag',
      object: WEB,
      reason: 'nginx:latest is rebuilt nightly by our own pipeline',
      createdBy: c.owner.userId,
      expiresAt: null,
      expired: false,
    });
    const [entry] = (await auditEntries(c.owner.token, 'suppression.create')).filter(
      (e) => e.target?.id === created.id,
    );
    expect(entry).toMatchObject({
      orgId: c.orgId,
      target: { type: 'suppression', id: created.id },
      details: {
        ruleId: 'mutable-image-tag',
        object: WEB,
        clusterId: c.clusterId,
        reason: 'nginx:latest is rebuilt nightly by our own pipeline',
      },
    });
    expect((await list(c.owner.token)).map((s) => s.id)).toEqual([created.id]);
    expect((await list(c.owner.token, `?cluster=${c.clusterId}`)).map((s) => s.id)).toEqual([created.id]);
  });

  it('refuses the same suppression twice with 409, and takes another object or rule', async () => {
    const c = await clusterWithFinding();
    const body = { ruleId: 'mutable-image-tag', object: WEB, clusterId: c.clusterId, reason: 'accepted' };
    expect((await suppress(c.owner.token, body)).statusCode).toBe(201);
    const again = await suppress(c.owner.token, { ...body, reason: 'another reason' });
    expect(again.statusCode, again.body).toBe(409);
    expect(again.json<{ error: { code: string } }>().error.code).toBe('suppression_exists');
    expect((await suppress(c.owner.token, { ...body, object: { ...WEB, name: 'api' } })).statusCode).toBe(201);
    expect((await suppress(c.owner.token, { ...body, ruleId: 'missing-pdb' })).statusCode).toBe(201);
    // The same rule and object for the whole org is a different suppression.
    const orgWide = { ruleId: body.ruleId, object: body.object, reason: body.reason };
    expect((await suppress(c.owner.token, orgWide)).statusCode).toBe(201);
    expect(await list(c.owner.token)).toHaveLength(4);
  });

  it('refuses an unknown rule, an empty or blank reason, a past expiry and unknown fields with 400 naming the field', async () => {
    const c = await clusterWithFinding();
    const body = { ruleId: 'mutable-image-tag', object: WEB, clusterId: c.clusterId, reason: 'accepted' };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...body, ruleId: 'no-such-rule' }, 'body.ruleId'],
      [{ ...body, reason: '' }, 'body.reason'],
      [{ ...body, reason: '   ' }, 'body.reason'],
      [{ ...body, reason: 'x'.repeat(1001) }, 'body.reason'],
      [{ ...body, expiresAt: new Date(t.clock.now() - HOUR_MS).toISOString() }, 'body.expiresAt'],
      [{ ...body, expiresAt: 'tomorrow' }, 'body.expiresAt'],
      [{ ...body, severity: 'low' }, 'body.severity'],
      [{ ...body, object: { ...WEB, labels: {} } }, 'body.object.labels'],
      [{ ...body, object: { kind: 'Deployment', name: 'web' } }, 'body.object.namespace'],
    ];
    for (const [payload, field] of cases) {
      const res = await suppress(c.owner.token, payload);
      expect(res.statusCode, `${field}: ${res.body}`).toBe(400);
      expect(fieldsOf(res)).toContain(field);
    }
    expect(await list(c.owner.token)).toEqual([]);
    expect(await auditEntries(c.owner.token, 'suppression.create')).toEqual([]);
  });

  it('lets a viewer read suppressions but not create or delete them (403)', async () => {
    const c = await clusterWithFinding();
    const viewer = await createUserWithToken(t.services, { role: 'viewer', orgId: c.orgId });
    const body = { ruleId: 'mutable-image-tag', object: WEB, clusterId: c.clusterId, reason: 'accepted' };
    expect((await suppress(viewer.token, body)).statusCode).toBe(403);
    const orgWide = { ruleId: body.ruleId, object: body.object, reason: body.reason };
    expect((await suppress(viewer.token, orgWide)).statusCode).toBe(403);
    const created = (await suppress(c.owner.token, body)).json<Suppression>();
    expect((await list(viewer.token, `?cluster=${c.clusterId}`)).map((s) => s.id)).toEqual([created.id]);
    expect((await remove(viewer.token, created.id)).statusCode).toBe(403);
    const member = await createUserWithToken(t.services, { role: 'member', orgId: c.orgId });
    expect((await remove(member.token, created.id)).statusCode).toBe(204);
    const anonymous = await t.app.inject({ method: 'GET', url: '/api/v1/policy/suppressions' });
    expect(anonymous.statusCode).toBe(401);
  });

  it('answers 404 for a cluster or suppression of another org, and lists none of its suppressions', async () => {
    const c = await clusterWithFinding();
    const stranger = await createUserWithToken(t.services, { role: 'owner' });
    const body = { ruleId: 'mutable-image-tag', object: WEB, clusterId: c.clusterId, reason: 'accepted' };
    expect((await suppress(stranger.token, body)).statusCode).toBe(404);
    const created = (await suppress(c.owner.token, body)).json<Suppression>();
    const listed = await t.app.inject({
      method: 'GET',
      url: `/api/v1/policy/suppressions?cluster=${c.clusterId}`,
      headers: bearer(stranger.token),
    });
    expect(listed.statusCode).toBe(404);
    expect(await list(stranger.token)).toEqual([]);
    expect((await remove(stranger.token, created.id)).statusCode).toBe(404);
    expect((await remove(c.owner.token, 'no-such-id')).statusCode).toBe(404);
    // A stranger naming the other org outright gets 404 too.
    expect((await suppress(stranger.token, { ...body, clusterId: undefined, orgId: c.orgId })).statusCode).toBe(404);
  });

  it('takes a suppressed finding out of state=open and into state=suppressed at once; deleting brings it back', async () => {
    const c = await clusterWithFinding();
    const [open] = await imageFindings(c.owner.token, c.clusterId);
    expect(open).toMatchObject({ state: 'open', object: WEB });
    expect(open?.suppression).toBeUndefined();
    const created = (
      await suppress(c.owner.token, {
        ruleId: 'mutable-image-tag',
        object: WEB,
        clusterId: c.clusterId,
        reason: 'pinned by the image controller',
      })
    ).json<Suppression>();

    expect(await imageFindings(c.owner.token, c.clusterId)).toEqual([]);
    const suppressed = await imageFindings(c.owner.token, c.clusterId, 'suppressed');
    expect(suppressed).toHaveLength(1);
    expect(suppressed[0]).toMatchObject({
      id: open?.id,
      state: 'open',
      suppression: {
        id: created.id,
        reason: 'pinned by the image controller',
        createdBy: c.owner.userId,
        createdByEmail: c.owner.email,
        createdAt: created.createdAt,
      },
    });
    expect(suppressed[0]?.suppression?.expiresAt).toBeUndefined();
    // Other findings of the same object stay open: the suppression is per rule.
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/findings?cluster=${c.clusterId}&state=suppressed&severity=info&limit=1000`,
      headers: bearer(c.owner.token),
    });
    expect(res.json<FindingPage>().items.map((f) => f.ruleId)).toEqual(['mutable-image-tag']);
    // The rule filter applies to suppressed findings too.
    for (const [rule, ids] of [
      ['mutable-image-tag', [open?.id]],
      ['missing-pdb', []],
    ] as const) {
      const byRule = await t.app.inject({
        method: 'GET',
        url: `/api/v1/findings?cluster=${c.clusterId}&state=suppressed&severity=info&rule=${rule}`,
        headers: bearer(c.owner.token),
      });
      expect(
        byRule.json<FindingPage>().items.map((f) => f.id),
        rule,
      ).toEqual(ids);
    }

    expect((await remove(c.owner.token, created.id)).statusCode).toBe(204);
    expect((await imageFindings(c.owner.token, c.clusterId)).map((f) => f.id)).toEqual([open?.id]);
    expect(await imageFindings(c.owner.token, c.clusterId, 'suppressed')).toEqual([]);
    const [deleted] = (await auditEntries(c.owner.token, 'suppression.delete')).filter(
      (e) => e.target?.id === created.id,
    );
    expect(deleted?.details).toMatchObject({
      ruleId: 'mutable-image-tag',
      object: WEB,
      reason: 'pinned by the image controller',
    });
    expect((await remove(c.owner.token, created.id)).statusCode).toBe(404);
  });

  it('stops applying an expired suppression, and lets the same one be created again', async () => {
    const c = await clusterWithFinding();
    const expiresAt = new Date(t.clock.now() + HOUR_MS).toISOString();
    const body = { ruleId: 'mutable-image-tag', object: WEB, clusterId: c.clusterId, reason: 'until the fix ships' };
    const created = (await suppress(c.owner.token, { ...body, expiresAt })).json<Suppression>();
    expect(created.expiresAt).toBe(expiresAt);
    const [suppressed] = await imageFindings(c.owner.token, c.clusterId, 'suppressed');
    expect(suppressed?.suppression).toMatchObject({ id: created.id, expiresAt });
    expect(await imageFindings(c.owner.token, c.clusterId)).toEqual([]);

    t.clock.advance(HOUR_MS);
    expect(await imageFindings(c.owner.token, c.clusterId)).toHaveLength(1);
    expect(await imageFindings(c.owner.token, c.clusterId, 'suppressed')).toEqual([]);
    expect(await list(c.owner.token, `?cluster=${c.clusterId}`)).toMatchObject([{ id: created.id, expired: true }]);

    const renewed = await suppress(c.owner.token, body);
    expect(renewed.statusCode, renewed.body).toBe(201);
    expect((await list(c.owner.token, `?cluster=${c.clusterId}`)).map((s) => s.id)).toEqual([
      renewed.json<Suppression>().id,
    ]);
    expect(await imageFindings(c.owner.token, c.clusterId)).toEqual([]);
  });

  it('applies a cluster-less suppression to every cluster of its org, and only there', async () => {
    const a1 = await clusterWithFinding();
    const a2 = await clusterWithFinding(a1.owner);
    const b = await clusterWithFinding();
    expect(a2.orgId).toBe(a1.orgId);
    expect(b.orgId).not.toBe(a1.orgId);
    const res = await suppress(a1.owner.token, {
      ruleId: 'mutable-image-tag',
      object: WEB,
      reason: 'every shop runs the nightly build',
    });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json<Suppression>();
    expect(created).toMatchObject({ orgId: a1.orgId, clusterId: null });

    for (const c of [a1, a2]) {
      expect(await imageFindings(a1.owner.token, c.clusterId)).toEqual([]);
      expect((await imageFindings(a1.owner.token, c.clusterId, 'suppressed')).map((f) => f.suppression?.id)).toEqual([
        created.id,
      ]);
      expect((await list(a1.owner.token, `?cluster=${c.clusterId}`)).map((s) => s.id)).toEqual([created.id]);
    }
    expect(await imageFindings(b.owner.token, b.clusterId)).toHaveLength(1);
    expect(await imageFindings(b.owner.token, b.clusterId, 'suppressed')).toEqual([]);

    // A cluster's own suppression is the one shown when both cover a finding.
    const own = (
      await suppress(a1.owner.token, {
        ruleId: 'mutable-image-tag',
        object: WEB,
        clusterId: a2.clusterId,
        reason: 'a2 is a sandbox',
      })
    ).json<Suppression>();
    const [shown] = await imageFindings(a1.owner.token, a2.clusterId, 'suppressed');
    expect(shown?.suppression).toMatchObject({ id: own.id, reason: 'a2 is a sandbox' });
  });

  it('leaves suppressed findings out of POST /policy/evaluate, and refuses an unknown rule there', async () => {
    const owner = await createUserWithToken(t.services, { role: 'member' });
    const yaml = [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata: {name: web, namespace: shop}',
      'spec:',
      '  replicas: 2',
      '  selector: {matchLabels: {app: web}}',
      '  template:',
      '    metadata: {labels: {app: web}}',
      '    spec: {containers: [{name: web, image: "nginx:latest"}]}',
    ].join('\n');
    const evaluate = (payload: Record<string, unknown>) =>
      t.app.inject({ method: 'POST', url: '/api/v1/policy/evaluate', headers: bearer(owner.token), payload });
    const rules = (res: Awaited<ReturnType<typeof evaluate>>) =>
      new Set(res.json<EvaluatePolicyResponse>().findings.map((f) => f.ruleId));
    const plain = await evaluate({ yaml });
    expect(rules(plain)).toContain('mutable-image-tag');
    const suppressed = await evaluate({
      yaml,
      suppressions: [{ ruleId: 'mutable-image-tag', object: WEB, reason: 'rebuilt nightly' }],
    });
    expect(suppressed.statusCode, suppressed.body).toBe(200);
    expect(rules(suppressed)).not.toContain('mutable-image-tag');
    expect([...rules(suppressed)].sort()).toEqual([...rules(plain)].filter((r) => r !== 'mutable-image-tag').sort());
    for (const [s, field] of [
      [{ ruleId: 'no-such-rule', object: WEB, reason: 'x' }, 'body.suppressions[0].ruleId'],
      [{ ruleId: 'mutable-image-tag', object: WEB, reason: '' }, 'body.suppressions[0].reason'],
      [{ ruleId: 'mutable-image-tag', object: WEB }, 'body.suppressions[0].reason'],
    ] as const) {
      const res = await evaluate({ yaml, suppressions: [s] });
      expect(res.statusCode, res.body).toBe(400);
      expect(fieldsOf(res)).toContain(field);
    }
  });

  it('documents the suppression routes in the OpenAPI document', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/openapi.json' });
    const paths = res.json<{ paths: Record<string, Record<string, unknown>> }>().paths;
    expect(Object.keys(paths['/api/v1/policy/suppressions'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(paths['/api/v1/policy/suppressions/{id}'] ?? {})).toEqual(['delete']);
  });
});
