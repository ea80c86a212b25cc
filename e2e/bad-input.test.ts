import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildFullHeartbeat, generateClusterInventory } from '@niro/testkit';
import { describeEachDatabase } from '../apps/server/src/test-support/databases.js';
import { isRecord } from '../apps/server/src/lib/validation.js';
import { bearer, createTestApp, createUserWithToken, type TestApp } from '../apps/server/src/test-support/app.js';

/**
 * Every POST/PATCH endpoint the OpenAPI document lists under /api/v1 and /api/agent/v1 gets
 * bodies a careless or hostile client sends: malformed JSON, an array, an unknown field, and
 * text/plain. Each must be a 4xx with `{ error: { code, message } }`, never a 500 and never a
 * success, and none may change stored data. Credentials are valid, so the body is what is judged.
 * A new endpoint without an example below fails the first test: add one.
 */
describeEachDatabase('bad input sweep', (dialect) => {
  let t: TestApp;
  let endpoints: Endpoint[];
  let examples: Map<string, Example>;
  let countsBefore: Record<string, number | string>;

  beforeAll(async () => {
    t = await createTestApp(dialect);
    const user = await createUserWithToken(t.services, { role: 'owner', email: 'sweep@example.test' });
    const other = await createUserWithToken(t.services, { role: 'viewer', email: 'other@example.test' });
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/clusters',
      headers: bearer(user.token),
      payload: { name: 'edge-bad-input', orgId: user.orgId },
    });
    expect(created.statusCode).toBe(201);
    const clusterId = stringAt(created.json(), 'cluster', 'id');
    const enrollBody = {
      token: stringAt(created.json(), 'enrollment', 'token'),
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: 'bad-input-uid' },
    };
    const enrolled = await t.app.inject({ method: 'POST', url: '/api/agent/v1/enroll', payload: enrollBody });
    expect(enrolled.statusCode).toBe(200);
    const agentKey = stringAt(enrolled.json(), 'agentKey');
    const inventory = generateClusterInventory({ nodes: 1, pods: 4, seed: 5 });
    const heartbeat = buildFullHeartbeat(inventory, { seq: 1, now: t.clock.now() });

    const userAuth = bearer(user.token);
    const ping = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clusters/${clusterId}/commands`,
      headers: userAuth,
      payload: { kind: 'ping' },
    });
    expect(ping.statusCode).toBe(201);
    const commandId = stringAt(ping.json(), 'id');
    const invited = await t.app.inject({
      method: 'POST',
      url: `/api/v1/orgs/${user.orgId}/invitations`,
      headers: userAuth,
      payload: { email: 'invitee@example.test', role: 'member' },
    });
    expect(invited.statusCode).toBe(201);
    const invitationToken = stringAt(invited.json(), 'token');
    examples = new Map<string, Example>([
      [
        'POST /api/v1/setup',
        { url: '/api/v1/setup', headers: {}, body: { email: 'first@example.test', password: 'long enough pass' } },
      ],
      ['POST /api/v1/auth/login', { url: '/api/v1/auth/login', headers: {}, body: credentials(user) }],
      ['POST /api/v1/auth/logout', { url: '/api/v1/auth/logout', headers: userAuth, body: null }],
      [
        'POST /api/v1/auth/token',
        { url: '/api/v1/auth/token', headers: {}, body: { ...credentials(user), name: 'sweep' } },
      ],
      ['POST /api/v1/tokens', { url: '/api/v1/tokens', headers: userAuth, body: { name: 'sweep' } }],
      ['POST /api/v1/orgs', { url: '/api/v1/orgs', headers: userAuth, body: { name: 'Sweep child' } }],
      ['PATCH /api/v1/orgs/{id}', { url: `/api/v1/orgs/${user.orgId}`, headers: userAuth, body: { name: 'Renamed' } }],
      [
        'POST /api/v1/orgs/{id}/members',
        {
          url: `/api/v1/orgs/${user.orgId}/members`,
          headers: userAuth,
          body: { email: other.email, role: 'member' },
        },
      ],
      [
        'POST /api/v1/orgs/{id}/invitations',
        {
          url: `/api/v1/orgs/${user.orgId}/invitations`,
          headers: userAuth,
          body: { email: 'sweep-invitee@example.test', role: 'viewer' },
        },
      ],
      [
        'POST /api/v1/invitations/{token}/accept',
        { url: `/api/v1/invitations/${invitationToken}/accept`, headers: {}, body: { password: 'long enough pass' } },
      ],
      ['POST /api/v1/clusters', { url: '/api/v1/clusters', headers: userAuth, body: { name: 'edge-sweep-new' } }],
      [
        'PATCH /api/v1/clusters/{id}',
        { url: `/api/v1/clusters/${clusterId}`, headers: userAuth, body: { name: 'edge-renamed' } },
      ],
      [
        'POST /api/v1/clusters/{id}/enrollment-token',
        { url: `/api/v1/clusters/${clusterId}/enrollment-token`, headers: userAuth, body: null },
      ],
      ['POST /api/agent/v1/enroll', { url: '/api/agent/v1/enroll', headers: {}, body: enrollBody }],
      ['POST /api/agent/v1/heartbeat', { url: '/api/agent/v1/heartbeat', headers: bearer(agentKey), body: heartbeat }],
      [
        'POST /api/v1/policy/evaluate',
        {
          url: '/api/v1/policy/evaluate',
          headers: userAuth,
          body: {
            yaml: 'apiVersion: v1\nkind: Pod\nmetadata: { name: sweep }\nspec:\n  containers: []\n',
            environment: 'dev',
          },
        },
      ],
      [
        'POST /api/v1/policy/suppressions',
        {
          url: '/api/v1/policy/suppressions',
          headers: userAuth,
          body: {
            ruleId: 'mutable-image-tag',
            object: { kind: 'Deployment', namespace: 'shop', name: 'web' },
            clusterId,
            reason: 'sweep',
          },
        },
      ],
      [
        'POST /api/v1/notification-channels',
        {
          url: '/api/v1/notification-channels',
          headers: userAuth,
          body: {
            name: 'sweep',
            type: 'slack',
            minSeverity: 'low',
            orgId: user.orgId,
            config: { url: 'https://hooks.example.test/x' },
          },
        },
      ],
      [
        'PATCH /api/v1/notification-channels/{id}',
        { url: '/api/v1/notification-channels/sweep-id', headers: userAuth, body: { name: 'x' } },
      ],
      [
        'POST /api/v1/notification-channels/{id}/test',
        { url: '/api/v1/notification-channels/sweep-id/test', headers: userAuth, body: null },
      ],
      [
        'POST /api/v1/clusters/{id}/commands',
        { url: `/api/v1/clusters/${clusterId}/commands`, headers: userAuth, body: { kind: 'ping', payload: {} } },
      ],
      [
        'POST /api/v1/incidents/{id}/ack',
        { url: '/api/v1/incidents/sweep-id/ack', headers: userAuth, body: { note: 'sweep' } },
      ],
      [
        'PUT /api/v1/orgs/{id}/incident-settings',
        { url: `/api/v1/orgs/${user.orgId}/incident-settings`, headers: userAuth, body: { crashLoopRestarts: 4 } },
      ],
      [
        'POST /api/v1/commands/{id}/cancel',
        { url: `/api/v1/commands/${commandId}/cancel`, headers: userAuth, body: null },
      ],
      [
        'POST /api/agent/v1/commands/{id}/ack',
        { url: `/api/agent/v1/commands/${commandId}/ack`, headers: bearer(agentKey), body: null },
      ],
      [
        'POST /api/agent/v1/commands/{id}/result',
        {
          url: `/api/agent/v1/commands/${commandId}/result`,
          headers: bearer(agentKey),
          body: { status: 'succeeded', result: { agentTime: '2026-01-01T00:00:00Z' } },
        },
      ],
      [
        'POST /api/v1/registries',
        {
          url: '/api/v1/registries',
          headers: userAuth,
          body: { name: 'sweep', server: '127.0.0.1:1', username: 'u', password: 'p' },
        },
      ],
      [
        'POST /api/v1/registries/{id}/verify',
        { url: '/api/v1/registries/sweep-id/verify', headers: userAuth, body: null },
      ],
      [
        'POST /api/v1/deployments',
        {
          url: '/api/v1/deployments',
          headers: userAuth,
          body: {
            name: 'sweep',
            clusterId,
            namespace: 'default',
            source: { type: 'yaml', yaml: 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: sweep }\n' },
          },
        },
      ],
      [
        'PATCH /api/v1/deployments/{id}',
        { url: '/api/v1/deployments/sweep-id', headers: userAuth, body: { apply: false } },
      ],
      [
        'POST /api/v1/deployments/{id}/apply',
        { url: '/api/v1/deployments/sweep-id/apply', headers: userAuth, body: {} },
      ],
      [
        'POST /api/v1/deployments/{id}/rollback',
        { url: '/api/v1/deployments/sweep-id/rollback', headers: userAuth, body: { revision: 1 } },
      ],
      [
        'POST /api/v1/deployments/{id}/unmanage',
        { url: '/api/v1/deployments/sweep-id/unmanage', headers: userAuth, body: null },
      ],
      [
        'POST /api/v1/deployments/{id}/diff',
        { url: '/api/v1/deployments/sweep-id/diff', headers: userAuth, body: null },
      ],
      [
        'POST /api/agent/v1/logs/{streamId}',
        {
          url: '/api/agent/v1/logs/sweep-stream',
          headers: bearer(agentKey),
          body: { type: 'log-end', streamId: 'sweep-stream', reason: 'eof' },
        },
      ],
    ]);

    const doc = await t.app.inject({ method: 'GET', url: '/api/openapi.json' });
    endpoints = writeEndpointsOf(doc.json());
    countsBefore = await rowCounts(t);
  });

  afterAll(async () => {
    await t.dispose();
  });

  it('has an example request for every POST/PATCH endpoint of the OpenAPI document', () => {
    expect(endpoints.length).toBeGreaterThanOrEqual(13);
    const missing = endpoints.filter((e) => !examples.has(e.key)).map((e) => e.key);
    expect(missing, 'endpoints without an example in bad-input.test.ts').toEqual([]);
  });

  it('answers malformed JSON with 400 invalid_json', async () => {
    const problems = await sweep(
      t,
      endpoints,
      examples,
      () => ({ contentType: 'application/json', payload: '{"a":' }),
      {
        status: 400,
        codes: ['invalid_json'],
      },
    );
    expect(problems).toEqual([]);
  });

  it('answers a JSON array instead of an object with 400 invalid_request', async () => {
    const withBody = endpoints.filter((e) => e.bodySchema !== null);
    const problems = await sweep(
      t,
      withBody,
      examples,
      (ex) => ({ contentType: 'application/json', payload: JSON.stringify([ex.body]) }),
      { status: 400, codes: ['invalid_request'] },
    );
    expect(problems).toEqual([]);
  });

  it('answers an unknown field with 400 invalid_request naming it, where the schema allows no extra fields', async () => {
    const strict = endpoints.filter((e) => e.bodySchema?.additionalProperties === false);
    expect(strict.length).toBeGreaterThanOrEqual(9);
    const problems = await sweep(
      t,
      strict,
      examples,
      (ex) => ({
        contentType: 'application/json',
        payload: JSON.stringify({ ...(isRecord(ex.body) ? ex.body : {}), sweepExtra: true }),
      }),
      { status: 400, codes: ['invalid_request'], field: 'body.sweepExtra' },
    );
    expect(problems).toEqual([]);
  });

  it('refuses a text/plain body with 415 unsupported_media_type', async () => {
    const problems = await sweep(t, endpoints, examples, textPlain, { status: 415, codes: ['unsupported_media_type'] });
    expect(problems).toEqual([]);
  });

  it('changed no stored data', async () => {
    expect(await rowCounts(t)).toEqual(countsBefore);
  });
});

const textPlain = (ex: Example): { contentType: string; payload: string } => ({
  contentType: 'text/plain',
  payload: JSON.stringify(ex.body ?? {}),
});

type Example = { url: string; headers: Record<string, string>; body: unknown };
type Endpoint = {
  method: 'POST' | 'PATCH';
  key: string;
  bodySchema: { additionalProperties?: unknown } | null;
};
type Expected = { status?: number; codes?: string[]; field?: string };

function credentials(user: { email: string; password: string }): { email: string; password: string } {
  return { email: user.email, password: user.password };
}

/** POST and PATCH operations of the API and agent protocol, read from the OpenAPI document. */
function writeEndpointsOf(doc: unknown): Endpoint[] {
  const paths = isRecord(doc) && isRecord(doc.paths) ? doc.paths : {};
  const out: Endpoint[] = [];
  for (const [p, item] of Object.entries(paths)) {
    if (!p.startsWith('/api/v1/') && !p.startsWith('/api/agent/v1/')) continue;
    if (!isRecord(item)) continue;
    for (const method of ['post', 'patch'] as const) {
      const op = item[method];
      if (!isRecord(op)) continue;
      const body = op.requestBody;
      const content = isRecord(body) && isRecord(body.content) ? body.content['application/json'] : undefined;
      const schema = isRecord(content) && isRecord(content.schema) ? content.schema : null;
      const upper = method === 'post' ? 'POST' : 'PATCH';
      out.push({ method: upper, key: `${upper} ${p}`, bodySchema: schema });
    }
  }
  return out;
}

/** Sends one bad body to each endpoint; returns a line per answer that is not what `expected` says. */
async function sweep(
  t: TestApp,
  endpoints: Endpoint[],
  examples: Map<string, Example>,
  bad: (ex: Example) => { contentType: string; payload: string },
  expected: Expected,
): Promise<string[]> {
  const problems: string[] = [];
  for (const e of endpoints) {
    const ex = examples.get(e.key);
    if (ex === undefined) continue;
    const { contentType, payload } = bad(ex);
    const res = await t.app.inject({
      method: e.method,
      url: ex.url,
      headers: { ...ex.headers, 'content-type': contentType },
      payload,
    });
    const problem = judge(res, expected);
    if (problem !== null) problems.push(`${e.key}: ${problem}`);
  }
  return problems;
}

function judge(res: LightMyRequestResponse, expected: Expected): string | null {
  const status = res.statusCode;
  const said = `HTTP ${status} ${res.body.slice(0, 200)}`;
  if (status < 400 || status >= 500) return `expected a 4xx, got ${said}`;
  if (expected.status !== undefined && status !== expected.status) return `expected ${expected.status}, got ${said}`;
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return `the error is not JSON: ${said}`;
  }
  const error = isRecord(body) ? body.error : undefined;
  if (!isRecord(error) || typeof error.code !== 'string' || typeof error.message !== 'string') {
    return `the reply is not { error: { code, message } }: ${said}`;
  }
  if (!/^[a-z][a-z0-9_]*$/.test(error.code) || error.message.trim() === '') {
    return `code or message unusable: ${said}`;
  }
  if (expected.codes !== undefined && !expected.codes.includes(error.code)) {
    return `expected ${expected.codes.join(' or ')}, got ${said}`;
  }
  if (expected.field !== undefined) {
    const fields = isRecord(error.details) && Array.isArray(error.details.fields) ? error.details.fields : [];
    const named = fields.some((f) => isRecord(f) && f.field === expected.field);
    if (!named) return `the error does not name ${expected.field}: ${said}`;
  }
  return null;
}

/** Rows per table a successful write would add (every write also leaves an audit entry), and cluster state. */
async function rowCounts(t: TestApp): Promise<Record<string, number | string>> {
  await t.services.heartbeat.flush();
  const db = t.services.database.db;
  const tables = [
    'users',
    'orgs',
    'memberships',
    'sessions',
    'api_tokens',
    'clusters',
    'enrollment_tokens',
    'audit_log',
    'suppressions',
    'notification_channels',
    'notification_outbox',
    'invitations',
    'registries',
    'deployments',
    'deployment_revisions',
  ] as const;
  const out: Record<string, number | string> = {};
  for (const table of tables) {
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    out[table] = Number(row.n);
  }
  const clusters = await db.selectFrom('clusters').select(['name', 'last_seq', 'updated_at']).execute();
  out.clusters_state = JSON.stringify(clusters);
  return out;
}

function stringAt(value: unknown, ...keys: string[]): string {
  let v: unknown = value;
  for (const k of keys) v = isRecord(v) ? v[k] : undefined;
  expect(typeof v, `reply field ${keys.join('.')}`).toBe('string');
  return String(v);
}
