import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_KEY_PREFIX, ENROLLMENT_TOKEN_PREFIX, type Capabilities } from '@niro/protocol';
import type { RunningServer } from '@niro/server';
import {
  DEFAULT_CAPABILITIES,
  buildFullHeartbeat,
  generateClusterInventory,
  registrySkipReason,
  startRegistry,
  type Registry,
} from '@niro/testkit';
import { ManualClock } from '../apps/server/src/clock.js';
import { describeEachDatabase } from '../apps/server/src/test-support/databases.js';
import { startLoggedServer, type LoggedServer } from './support/logged-server.js';

/**
 * RELIABILITY-TESTS ENR-3 and SEC-1: after a full cycle (first-run setup, login, API token
 * create and revoke, cluster create, enroll, re-enroll with a new token, heartbeats with the new
 * and the replaced key, a Git credential and a registry password used by deployments whose pull
 * Secret the agent receives, logout, cluster delete) no secret created on the way can be read back
 * from the database (SQLite: the raw bytes of niro.db, -wal and -shm, before and after shutdown;
 * both dialects: every row of every table) or from any log line written at debug level; not as
 * plain text and not as hex, base64 or base64url of its bytes. What the database does hold is the
 * SHA-256 of each random secret and an scrypt hash of the password.
 */
const REGISTRY_USER = 'puller';
const REGISTRY_PASSWORD = 'registry-pass-Kw3-not-in-any-file';

describeEachDatabase('secrets at rest', (dialect) => {
  const email = 'sweeper@example.test';
  const password = 'sweep-passphrase-Zq7!-not-in-any-file';
  const clock = new ManualClock(Date.parse('2026-06-01T09:00:00Z'));
  let running: LoggedServer;
  let server: RunningServer;
  let logs: string[];
  let dataDir: string;
  let registry: Registry | undefined;

  beforeAll(async () => {
    running = await startLoggedServer(dialect, clock);
    ({ server, logs, dataDir } = running);
    if (registrySkipReason() === null) {
      registry = await startRegistry({ auth: { kind: 'htpasswd', users: { [REGISTRY_USER]: REGISTRY_PASSWORD } } });
    }
  });

  afterAll(async () => {
    await running.dispose();
    await registry?.stop();
  });

  it('keeps no secret readable in the database files, the rows or the logs after a full cycle', async () => {
    const http = new Http(server.url);
    const secrets: Secret[] = [{ label: 'password', value: password, prefix: null }];

    // First run from the server machine: creates the administrator and signs in.
    expect(server.needsSetup).toBe(true);
    const setup = await http.call('POST', '/api/v1/setup', { body: { email, password, orgName: 'Sweep' } });
    expect(setup.status).toBe(201);
    const setupCookie = http.sessionCookie(setup);
    secrets.push({ label: 'setup session cookie', value: setupCookie, prefix: '' });

    // A fresh login rotates the session.
    const login = await http.call('POST', '/api/v1/auth/login', {
      body: { email, password },
      cookie: setupCookie,
    });
    expect(login.status).toBe(200);
    const cookie = http.sessionCookie(login);
    secrets.push({ label: 'login session cookie', value: cookie, prefix: '' });
    expect(cookie).not.toBe(setupCookie);
    expect((await http.call('GET', '/api/v1/me', { cookie: setupCookie })).status).toBe(401);

    // An API token created with the session, and one traded for email + password.
    const created = await http.call('POST', '/api/v1/tokens', { body: { name: 'sweep script' }, cookie });
    expect(created.status).toBe(201);
    const sessionToken = stringAt(created.json, 'token');
    const sessionTokenId = stringAt(created.json, 'apiToken', 'id');
    secrets.push({ label: 'API token (session)', value: sessionToken, prefix: 'niro_pat_' });
    const exchanged = await http.call('POST', '/api/v1/auth/token', { body: { email, password, name: 'sweep cli' } });
    expect(exchanged.status).toBe(201);
    const token = stringAt(exchanged.json, 'token');
    secrets.push({ label: 'API token (exchange)', value: token, prefix: 'niro_pat_' });

    // Revoke the first token; it stops working.
    expect((await http.call('DELETE', `/api/v1/tokens/${sessionTokenId}`, { token })).status).toBe(204);
    const revoked = await http.call('GET', '/api/v1/me', { token: sessionToken });
    expect(revoked.status).toBe(401);
    expect(revoked.json).toMatchObject({ error: { code: 'invalid_token' } });

    // Create a cluster and enroll it.
    const cluster = await http.call('POST', '/api/v1/clusters', {
      body: { name: 'edge-sweep-01', environment: 'production' },
      token,
    });
    expect(cluster.status).toBe(201);
    const clusterId = stringAt(cluster.json, 'cluster', 'id');
    const firstEnrollmentToken = stringAt(cluster.json, 'enrollment', 'token');
    secrets.push({ label: 'enrollment token 1', value: firstEnrollmentToken, prefix: ENROLLMENT_TOKEN_PREFIX });
    const firstKey = await enroll(http, firstEnrollmentToken, clusterId);
    secrets.push({ label: 'agent key 1', value: firstKey, prefix: AGENT_KEY_PREFIX });
    expect((await heartbeat(http, firstKey, 1)).status).toBe(200);

    // Re-enroll with a new token: the key is replaced and the old one is refused.
    const reissued = await http.call('POST', `/api/v1/clusters/${clusterId}/enrollment-token`, { body: {}, token });
    expect(reissued.status).toBe(201);
    const secondEnrollmentToken = stringAt(reissued.json, 'token');
    secrets.push({ label: 'enrollment token 2', value: secondEnrollmentToken, prefix: ENROLLMENT_TOKEN_PREFIX });
    const secondKey = await enroll(http, secondEnrollmentToken, clusterId);
    secrets.push({ label: 'agent key 2', value: secondKey, prefix: AGENT_KEY_PREFIX });
    expect(secondKey).not.toBe(firstKey);
    expect((await heartbeat(http, secondKey, 1)).status).toBe(200);
    const refused = await heartbeat(http, firstKey, 2);
    expect(refused.status).toBe(401);
    expect(refused.json).toMatchObject({ error: { code: 'invalid_agent_key' } });
    await server.services.heartbeat.flush();

    // What is stored is the SHA-256 of each random secret and an scrypt hash of the password.
    const db = server.services.database.db;
    const clusterRow = await db
      .selectFrom('clusters')
      .select('agent_key_hash')
      .where('id', '=', clusterId)
      .executeTakeFirstOrThrow();
    expect(clusterRow.agent_key_hash).toBe(sha256Hex(secondKey));
    const tokenHashes = (await db.selectFrom('api_tokens').select('token_hash').execute()).map((r) => r.token_hash);
    expect(tokenHashes.sort()).toEqual([sha256Hex(sessionToken), sha256Hex(token)].sort());
    const enrollmentHashes = (
      await db.selectFrom('enrollment_tokens').select('token_hash').where('cluster_id', '=', clusterId).execute()
    ).map((r) => r.token_hash);
    expect(enrollmentHashes.sort()).toEqual([sha256Hex(firstEnrollmentToken), sha256Hex(secondEnrollmentToken)].sort());
    const sessionIds = (await db.selectFrom('sessions').select('id').execute()).map((r) => r.id);
    expect(sessionIds).toEqual([sha256Hex(cookie)]);
    const user = await db.selectFrom('users').select('password_hash').executeTakeFirstOrThrow();
    expect(user.password_hash).toMatch(/^\$scrypt\$/);

    // Deployments on a second cluster that stays: a Git credential, and — with a registry to verify
    // against — a registry password whose pull Secret travels sealed inside an apply command.
    const kept = await http.call('POST', '/api/v1/clusters', { body: { name: 'edge-sweep-02' }, token });
    const keptId = stringAt(kept.json, 'cluster', 'id');
    const keptEnrollment = stringAt(kept.json, 'enrollment', 'token');
    secrets.push({ label: 'enrollment token 3', value: keptEnrollment, prefix: ENROLLMENT_TOKEN_PREFIX });
    const keptKey = await enroll(http, keptEnrollment, keptId, 'a5e0b1c2-0000-4000-8000-00000000sw02');
    secrets.push({ label: 'agent key 3', value: keptKey, prefix: AGENT_KEY_PREFIX });
    expect((await heartbeat(http, keptKey, 1, { apply: true })).status).toBe(200);
    const gitPassword = 'git-token-Vb91-not-in-any-file';
    secrets.push({ label: 'Git credential', value: gitPassword, prefix: null });
    const gitDeployment = await http.call('POST', '/api/v1/deployments', {
      token,
      body: {
        name: 'from-git',
        clusterId: keptId,
        namespace: 'shop',
        apply: false,
        source: {
          type: 'git',
          url: 'https://git.example.test/shop.git',
          ref: 'main',
          path: 'deploy',
          credential: { username: 'bot', password: gitPassword },
        },
      },
    });
    expect(gitDeployment.status).toBe(201);
    if (registry !== undefined) {
      secrets.push({ label: 'registry password', value: REGISTRY_PASSWORD, prefix: null });
      secrets.push({ label: 'registry user:password', value: `${REGISTRY_USER}:${REGISTRY_PASSWORD}`, prefix: null });
      const saved = await http.call('POST', '/api/v1/registries', {
        token,
        body: { name: 'local', server: registry.host, username: REGISTRY_USER, password: REGISTRY_PASSWORD },
      });
      expect(saved.status).toBe(201);
      const deployed = await http.call('POST', '/api/v1/deployments', {
        token,
        body: {
          name: 'web',
          clusterId: keptId,
          namespace: 'shop',
          source: {
            type: 'builder',
            form: {
              name: 'web',
              image: `${registry.host}/shop/web:1`,
              registryId: stringAt(saved.json, 'id'),
              replicas: 1,
            },
          },
        },
      });
      expect(deployed.status).toBe(201);
      // The agent does receive the pull Secret (it must reach the cluster), over its own connection.
      const delivered = await http.call('GET', '/api/agent/v1/commands', { token: keptKey });
      const manifests = stringAt(
        (delivered.json as { commands: { payload: unknown }[] }).commands[0]?.payload,
        'manifests',
      );
      const pullSecret = JSON.parse(manifests.split('\n---\n')[0] ?? '') as { data: Record<string, string> };
      const config = JSON.parse(Buffer.from(pullSecret.data['.dockerconfigjson'] ?? '', 'base64').toString()) as {
        auths: Record<string, { username: string }>;
      };
      expect(config.auths[registry.host]?.username).toBe(REGISTRY_USER);
    }

    // Sign out and delete the cluster: its key stops working.
    expect((await http.call('POST', '/api/v1/auth/logout', { cookie })).status).toBe(204);
    expect((await http.call('GET', '/api/v1/me', { cookie })).status).toBe(401);
    expect((await http.call('DELETE', `/api/v1/clusters/${clusterId}`, { token })).status).toBe(204);
    expect((await heartbeat(http, secondKey, 2)).status).toBe(401);
    await server.services.heartbeat.flush();

    // Everything the server wrote: every row, the raw files (running and after shutdown), the logs.
    const rows = await dumpAllRows(server);
    const filesWhileRunning = readDataFiles(dataDir);
    await server.close();
    const filesAfterClose = readDataFiles(dataDir);
    if (dialect === 'sqlite') {
      expect(filesWhileRunning.map((f) => path.basename(f.file))).toContain('niro.db');
      expect(filesAfterClose.map((f) => path.basename(f.file))).toContain('niro.db');
    }
    const haystacks: Haystack[] = [
      { where: 'database rows', bytes: Buffer.from(rows, 'utf8') },
      ...filesWhileRunning.map((f) => ({ where: `${f.file} (running)`, bytes: f.bytes })),
      ...filesAfterClose.map((f) => ({ where: `${f.file} (closed)`, bytes: f.bytes })),
      ...logs.map((line, i) => ({ where: `log line ${i}`, bytes: Buffer.from(line, 'utf8') })),
    ];
    expect(logs.length).toBeGreaterThan(10);

    // The sweep reads real data: the stored hash of the surviving token is found where it should be.
    const storedHash = sha256Hex(token);
    expect(rows).toContain(storedHash);
    if (dialect === 'sqlite') {
      expect(filesAfterClose.some((f) => f.bytes.includes(storedHash))).toBe(true);
    }

    const hits = sweep(secrets, haystacks);
    expect(hits, 'secret bytes found at rest or in logs').toEqual([]);
    expect(secrets).toHaveLength(registry === undefined ? 12 : 14);
  });
});

describe('secret sweep', () => {
  it('finds a secret written in any of the forms it claims to search', () => {
    const raw = randomBytes(32);
    const secret: Secret = { label: 'key', value: `niro_ak_${raw.toString('base64url')}`, prefix: 'niro_ak_' };
    const utf8 = Buffer.from(secret.value, 'utf8');
    const planted: Record<string, Buffer> = {
      'plain in JSON': Buffer.from(JSON.stringify({ agentKey: secret.value })),
      'random part only': Buffer.from(`key=${raw.toString('base64url')};`),
      'hex of the random bytes': Buffer.from(`\\x${raw.toString('hex')}`),
      'upper-case hex of the random bytes': Buffer.from(raw.toString('hex').toUpperCase()),
      'base64 of the random bytes': Buffer.from(raw.toString('base64')),
      'hex of the whole string': Buffer.from(utf8.toString('hex')),
      'base64 of the whole string': Buffer.from(`"${utf8.toString('base64')}"`),
      'base64url of the whole string': Buffer.from(utf8.toString('base64url')),
      'raw bytes in a blob': Buffer.concat([Buffer.from([0, 1, 2]), raw, Buffer.from([3])]),
    };
    for (const [form, bytes] of Object.entries(planted)) {
      expect(sweep([secret], [{ where: form, bytes }]), form).not.toEqual([]);
    }
    expect(sweep([secret], [{ where: 'other', bytes: randomBytes(4096) }])).toEqual([]);
  });
});

type Secret = {
  label: string;
  value: string;
  /** `null`: a human-chosen string; otherwise the prefix before the base64url random part. */
  prefix: string | null;
};
type Haystack = { where: string; bytes: Buffer };

/** The forms a secret's bytes could take in a file or a log line. */
function encodingsOf(secret: Secret): { encoding: string; needle: Buffer }[] {
  const forms: { encoding: string; needle: Buffer }[] = [];
  const text = (encoding: string, s: string): void => {
    forms.push({ encoding, needle: Buffer.from(s, 'utf8') });
  };
  const add = (encoding: string, bytes: Buffer): void => {
    const hex = bytes.toString('hex');
    text(`${encoding} hex`, hex);
    text(`${encoding} HEX`, hex.toUpperCase());
    text(`${encoding} base64`, bytes.toString('base64').replace(/=+$/, ''));
    text(`${encoding} base64url`, bytes.toString('base64url'));
  };
  text('plain', secret.value);
  add('text', Buffer.from(secret.value, 'utf8'));
  if (secret.prefix !== null) {
    const random = secret.value.slice(secret.prefix.length);
    text('without prefix', random);
    const raw = Buffer.from(random, 'base64url');
    expect(raw.length, `${secret.label} carries 256 random bits`).toBe(32);
    add('random bytes', raw);
    forms.push({ encoding: 'raw random bytes', needle: raw });
  }
  return forms;
}

function sweep(secrets: Secret[], haystacks: Haystack[]): string[] {
  const hits: string[] = [];
  for (const secret of secrets) {
    for (const { encoding, needle } of encodingsOf(secret)) {
      for (const h of haystacks) {
        if (h.bytes.includes(needle)) hits.push(`${secret.label} as ${encoding} in ${h.where}`);
      }
    }
  }
  return hits;
}

/** Every row of every table as JSON text (what a database dump would contain). */
async function dumpAllRows(server: RunningServer): Promise<string> {
  const { db, dialect } = server.services.database;
  const tables =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)
      : await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = 'public'`.execute(db);
  expect(tables.rows.map((t) => t.name)).toEqual(expect.arrayContaining(['clusters', 'api_tokens', 'audit_log']));
  const parts: string[] = [];
  for (const { name } of tables.rows) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db);
    parts.push(`${name}: ${JSON.stringify(rows.rows)}`);
  }
  return parts.join('\n');
}

/** Every file under the data directory (the SQLite database, its -wal and -shm, anything else). */
function readDataFiles(dir: string): { file: string; bytes: Buffer }[] {
  const out: { file: string; bytes: Buffer }[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out.push({ file, bytes: fs.readFileSync(file) });
  }
  return out;
}

function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

type CallResult = { status: number; json: unknown; headers: Headers };

/** Plain HTTP as a browser or script would speak it; cookie calls say they come from the dashboard. */
class Http {
  constructor(private readonly baseUrl: string) {}

  async call(
    method: string,
    url: string,
    opts: { body?: unknown; cookie?: string; token?: string } = {},
  ): Promise<CallResult> {
    const headers: Record<string, string> = {};
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    if (opts.cookie !== undefined) {
      headers.cookie = `niro_session=${opts.cookie}`;
      headers['sec-fetch-site'] = 'same-origin';
    }
    const init: RequestInit = { method, headers };
    if (opts.body !== undefined) init.body = JSON.stringify(opts.body);
    const res = await fetch(this.baseUrl + url, init);
    const text = await res.text();
    return { status: res.status, json: text === '' ? null : (JSON.parse(text) as unknown), headers: res.headers };
  }

  /** The session cookie value a reply sets; checks its attributes on the way. */
  sessionCookie(res: CallResult): string {
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('niro_session='));
    expect(cookie, 'the reply sets the niro_session cookie').toBeDefined();
    const header = cookie ?? '';
    expect(header).toMatch(/; HttpOnly/i);
    expect(header).toMatch(/; SameSite=Lax/i);
    expect(header).toMatch(/; Path=\//i);
    const value = header.slice('niro_session='.length).split(';')[0] ?? '';
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    return value;
  }
}

async function enroll(
  http: Http,
  token: string,
  clusterId: string,
  uid = 'a5e0b1c2-0000-4000-8000-00000000sw01',
): Promise<string> {
  const res = await http.call('POST', '/api/agent/v1/enroll', {
    body: {
      token,
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid },
    },
  });
  expect(res.status).toBe(200);
  expect(stringAt(res.json, 'clusterId')).toBe(clusterId);
  return stringAt(res.json, 'agentKey');
}

const inventory = generateClusterInventory({ nodes: 1, pods: 6, seed: 31 });

async function heartbeat(
  http: Http,
  agentKey: string,
  seq: number,
  capabilities: Partial<Capabilities> = {},
): Promise<CallResult> {
  const body = buildFullHeartbeat(inventory, {
    seq,
    now: Date.parse('2026-06-01T09:00:00Z'),
    capabilities: { ...DEFAULT_CAPABILITIES, ...capabilities },
  });
  return http.call('POST', '/api/agent/v1/heartbeat', { body, token: agentKey });
}

/** A string field of a JSON reply, or a test failure naming the path. */
function stringAt(value: unknown, ...keys: string[]): string {
  let v: unknown = value;
  for (const k of keys) v = typeof v === 'object' && v !== null && !Array.isArray(v) ? Reflect.get(v, k) : undefined;
  expect(typeof v, `reply field ${keys.join('.')}`).toBe('string');
  return String(v);
}
