import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { registrySkipReason, startRegistry, type Registry } from '@niro/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox } from '../../lib/secret-box.js';
import { createTestApp, bearer, createUserWithToken, type TestApp, type TestUser } from '../../test-support/app.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { RegistriesRepository } from './registries.repository.js';
import { RegistriesService } from './registries.service.js';
import { parseChallenge, verifyRegistryCredential } from './registry-client.js';
import { dockerConfigKey, parseRegistryServer, registrableDomain, sameSite } from './registry-server.js';

const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');
const PASSWORD = `s3cret-${randomBytes(6).toString('hex')}`;
const USER = 'robot';

/** null when docker-registry runs here; with NIRO_REQUIRE_REGISTRY=1 a missing one fails this file. */
const missingRegistry = registrySkipReason();
const describeWithRegistry = missingRegistry === null ? describe : describe.skip;
const withRegistry = (name: string): string =>
  missingRegistry === null ? name : `${name} [skipped: ${missingRegistry}]`;

/** A loopback HTTP server that records every request and answers with `handle`. */
type Recorded = { method: string; url: string; authorization: string | undefined };
type Recorder = { port: number; origin: string; requests: Recorded[]; close(): Promise<void> };

async function recordingServer(
  host: string,
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<Recorder> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: `http://${host}:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('registry server names and challenges', () => {
  it('normalises what users type to host[:port], with Docker Hub as docker.io', () => {
    expect(parseRegistryServer('GHCR.io').server).toBe('ghcr.io');
    expect(parseRegistryServer('https://registry.example.com:5000/').server).toBe('registry.example.com:5000');
    expect(parseRegistryServer('https://index.docker.io/v1/')).toMatchObject({
      server: 'docker.io',
      apiHost: 'registry-1.docker.io',
    });
    expect(parseRegistryServer('docker.io').apiHost).toBe('registry-1.docker.io');
    expect(parseRegistryServer('http://127.0.0.1:5000')).toMatchObject({ server: '127.0.0.1:5000', loopback: true });
    expect(parseRegistryServer('[::1]:5000')).toMatchObject({ server: '[::1]:5000', loopback: true });
    expect(dockerConfigKey('docker.io')).toBe('https://index.docker.io/v1/');
    expect(dockerConfigKey('ghcr.io')).toBe('ghcr.io');
  });

  it('refuses plain http for non-loopback registries, paths, credentials in the URL and bad hosts', () => {
    for (const bad of [
      'http://registry.example.com',
      'ghcr.io/team/app',
      'https://user:pw@ghcr.io',
      'ftp://ghcr.io',
      'bad_host!',
      'ghcr.io?x=1',
    ]) {
      expect(() => parseRegistryServer(bad), bad).toThrow(/body\.server/);
    }
  });

  it('sends a credential to a token realm only on the same host or registrable domain', () => {
    expect(sameSite('auth.docker.io', 'registry-1.docker.io')).toBe(true);
    expect(sameSite('gitlab.com', 'registry.gitlab.com')).toBe(true);
    expect(sameSite('ghcr.io', 'ghcr.io')).toBe(true);
    expect(sameSite('evil.example', 'ghcr.io')).toBe(false);
    expect(sameSite('docker.io.evil.example', 'registry-1.docker.io')).toBe(false);
    expect(sameSite('127.0.0.2', '127.0.0.1')).toBe(false);
    expect(sameSite('localhost', '127.0.0.1')).toBe(false);
    // Shared hosting: another customer's subdomain is another site.
    expect(sameSite('attacker.azurecr.io', 'victim.azurecr.io')).toBe(false);
    expect(registrableDomain('registry.example.co.uk')).toBe('example.co.uk');
  });

  it('parses Basic and Bearer challenges with quoted parameters', () => {
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io' },
    });
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({
      scheme: 'basic',
      params: { realm: 'Registry Realm' },
    });
    expect(parseChallenge('Negotiate abc')).toBeNull();
  });
});

describe('registry verification limits', () => {
  it('gives up on a registry that does not answer, naming the timeout', async () => {
    const silent = await recordingServer('127.0.0.1', () => {
      // never answers
    });
    try {
      const target = parseRegistryServer(`127.0.0.1:${silent.port}`);
      await expect(
        verifyRegistryCredential(target, { username: USER, password: PASSWORD }, { timeoutMs: 300 }),
      ).rejects.toMatchObject({ code: 'registry_unreachable', reason: expect.stringMatching(/did not answer/) });
    } finally {
      await silent.close();
    }
  });

  it('stops reading an answer larger than the cap', async () => {
    const huge = await recordingServer('127.0.0.1', (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      res.end(Buffer.alloc(64 * 1024, 'x'));
    });
    try {
      const target = parseRegistryServer(`127.0.0.1:${huge.port}`);
      await expect(
        verifyRegistryCredential(target, { username: USER, password: PASSWORD }, { maxResponseBytes: 1024 }),
      ).rejects.toMatchObject({ code: 'registry_unreachable', reason: expect.stringMatching(/more than 1024 bytes/) });
    } finally {
      await huge.close();
    }
  });

  it('reports a DNS failure as such', async () => {
    const target = parseRegistryServer('registry.niro-test.invalid');
    await expect(verifyRegistryCredential(target, { username: USER, password: PASSWORD })).rejects.toMatchObject({
      code: 'registry_unreachable',
      reason: expect.stringMatching(/DNS lookup of registry\.niro-test\.invalid failed/),
    });
  });
});

describeEachDatabase('registries API', (dialect) => {
  let t: TestApp;
  let member: TestUser;
  let viewer: TestUser;
  let stranger: TestUser;

  beforeAll(async () => {
    t = await createTestApp(dialect, { NIRO_SECRET_KEY: KEY_A });
    member = await createUserWithToken(t.services, { role: 'member' });
    viewer = await createUserWithToken(t.services, { role: 'viewer', orgId: member.orgId });
    stranger = await createUserWithToken(t.services);
  });

  afterAll(async () => {
    await t.dispose();
  });

  const create = (token: string, body: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/api/v1/registries', headers: bearer(token), payload: body });
  const list = (token: string) => t.app.inject({ method: 'GET', url: '/api/v1/registries', headers: bearer(token) });

  /** Nothing the server wrote or answered may hold the password or its Basic form. */
  function expectNoSecret(text: string): void {
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
  }

  it('rejects unknown fields, bad servers and bad usernames with 400 naming the field', async () => {
    const good = { name: 'r', server: 'ghcr.io', username: USER, password: PASSWORD };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...good, extra: 1 }, 'body.extra'],
      [{ ...good, server: 'http://registry.example.com' }, 'body.server'],
      [{ ...good, server: 'ghcr.io/team/app' }, 'body.server'],
      [{ ...good, username: 'a:b' }, 'body.username'],
      [{ ...good, name: '' }, 'body.name'],
      [{ ...good, password: '' }, 'body.password'],
    ];
    for (const [body, field] of cases) {
      const res = await create(member.token, body);
      expect(res.statusCode, field).toBe(400);
      expect(JSON.stringify(res.json()), field).toContain(field);
      expectNoSecret(res.body);
    }
  });

  it('lets a viewer list but not add registries', async () => {
    const res = await create(viewer.token, {
      name: 'nope',
      server: '127.0.0.1:1',
      username: USER,
      password: PASSWORD,
    });
    expect(res.statusCode).toBe(403);
    expect((await list(viewer.token)).statusCode).toBe(200);
  });

  it('never follows a redirect of /v2/ with the credential', async () => {
    const elsewhere = await recordingServer('127.0.0.2', (_req, res) => res.writeHead(200).end('{}'));
    const registry = await recordingServer('127.0.0.1', (req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      } else {
        res.writeHead(307, { location: `${elsewhere.origin}/v2/` }).end();
      }
    });
    try {
      const res = await create(member.token, {
        name: 'redirecting',
        server: `127.0.0.1:${registry.port}`,
        username: USER,
        password: PASSWORD,
      });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toMatchObject({ error: { code: 'registry_unreachable' } });
      expect(res.json().error.message).toMatch(/redirect/);
      expect(registry.requests.some((r) => r.authorization === basic(USER, PASSWORD))).toBe(true);
      expect(elsewhere.requests).toEqual([]);
      expectNoSecret(res.body);
    } finally {
      await registry.close();
      await elsewhere.close();
    }
  });

  it('refuses a token realm on plain http off loopback, and a token endpoint that redirects', async () => {
    const elsewhere = await recordingServer('127.0.0.2', (_req, res) => res.writeHead(200).end('{"token":"x"}'));
    let realm = 'http://registry.example.com/token';
    const registry = await recordingServer('127.0.0.1', (req, res) => {
      if (req.url?.startsWith('/token')) {
        res.writeHead(302, { location: `${elsewhere.origin}/token` }).end();
        return;
      }
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="s"` }).end();
    });
    try {
      const body = { name: 'bad-realm', server: `127.0.0.1:${registry.port}`, username: USER, password: PASSWORD };
      const plain = await create(member.token, body);
      expect(plain.statusCode).toBe(422);
      expect(plain.json().error.message).toMatch(/not on HTTPS/);

      realm = `${registry.origin}/token`;
      const redirected = await create(member.token, body);
      expect(redirected.statusCode).toBe(422);
      expect(redirected.json().error.message).toMatch(/redirected the token request/);
      expect(elsewhere.requests).toEqual([]);
      expectNoSecret(plain.body + redirected.body);
    } finally {
      await registry.close();
      await elsewhere.close();
    }
  });

  describeWithRegistry(withRegistry('against docker-registry'), () => {
    let htpasswd: Registry;
    let token: Registry;
    let otherRealm: Registry;

    beforeAll(async () => {
      htpasswd = await startRegistry({ auth: { kind: 'htpasswd', users: { [USER]: PASSWORD } } });
      token = await startRegistry({ auth: { kind: 'token', users: { [USER]: PASSWORD } } });
      otherRealm = await startRegistry({
        auth: { kind: 'token', users: { [USER]: PASSWORD }, realmHost: '127.0.0.2' },
      });
    });

    afterAll(async () => {
      await Promise.all([htpasswd.stop(), token.stop(), otherRealm.stop()]);
    });

    it('saves an htpasswd credential the registry accepts, sealed, and never shows the password', async () => {
      const res = await create(member.token, {
        name: 'local-basic',
        server: `http://${htpasswd.host}`,
        username: USER,
        password: PASSWORD,
      });
      expect(res.statusCode).toBe(201);
      const created = res.json();
      expect(created).toMatchObject({
        name: 'local-basic',
        server: htpasswd.host,
        username: USER,
        orgId: member.orgId,
        lastVerifiedAt: expect.any(String),
      });
      expect(Object.keys(created).sort()).toEqual(
        ['createdAt', 'id', 'lastVerifiedAt', 'name', 'orgId', 'server', 'username'].sort(),
      );

      const listed = await list(viewer.token);
      expect(listed.json().items.map((r: { id: string }) => r.id)).toContain(created.id);
      expect((await list(stranger.token)).json().items).toEqual([]);

      const row = await t.services.database.db
        .selectFrom('registries')
        .selectAll()
        .where('id', '=', created.id)
        .executeTakeFirstOrThrow();
      expect(row.secret).not.toContain(PASSWORD);
      expect(row.secret).toMatch(/^v1\./);
      const audit = await t.services.database.db
        .selectFrom('audit_log')
        .selectAll()
        .where('target_id', '=', created.id)
        .execute();
      expect(audit.map((a) => a.action)).toEqual(['registry.create']);
      expectNoSecret(JSON.stringify(audit) + res.body + listed.body + t.logs.join(''));
    });

    it('rejects a wrong htpasswd password with registry_auth_failed and saves nothing', async () => {
      const res = await create(member.token, {
        name: 'wrong-basic',
        server: htpasswd.host,
        username: USER,
        password: `${PASSWORD}-wrong`,
      });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toMatchObject({
        error: { code: 'registry_auth_failed', details: { reason: expect.stringMatching(/rejected/) } },
      });
      expect(res.body).not.toContain(`${PASSWORD}-wrong`);
      expect(t.logs.join('')).not.toContain(`${PASSWORD}-wrong`);
      const names = (await list(member.token)).json().items.map((r: { name: string }) => r.name);
      expect(names).not.toContain('wrong-basic');
    });

    it('goes through the token flow: a right password is saved, a wrong one is a 422', async () => {
      const ok = await create(member.token, {
        name: 'local-token',
        server: token.host,
        username: USER,
        password: PASSWORD,
      });
      expect(ok.statusCode).toBe(201);
      expect(token.tokenRequests.some((r) => r.authorization === basic(USER, PASSWORD))).toBe(true);

      const wrong = await create(member.token, {
        name: 'local-token-wrong',
        server: token.host,
        username: USER,
        password: 'not-it',
      });
      expect(wrong.statusCode).toBe(422);
      expect(wrong.json().error.code).toBe('registry_auth_failed');
      expectNoSecret(ok.body + wrong.body + t.logs.join(''));
    });

    it('refuses a token realm on another host, which never hears from the server', async () => {
      const res = await create(member.token, {
        name: 'other-realm',
        server: otherRealm.host,
        username: USER,
        password: PASSWORD,
      });
      expect(res.statusCode).toBe(422);
      expect(res.json().error.code).toBe('registry_auth_failed');
      expect(res.json().error.message).toMatch(/127\.0\.0\.2/);
      expect(otherRealm.tokenRequests).toEqual([]);
    });

    it('re-verifies, makes pull secrets for the right orgs only, and deletes with an audit entry', async () => {
      const created = (
        await create(member.token, { name: 'to-delete', server: htpasswd.host, username: USER, password: PASSWORD })
      ).json();
      t.clock.advance(60_000);
      const verified = await t.app.inject({
        method: 'POST',
        url: `/api/v1/registries/${created.id}/verify`,
        headers: bearer(member.token),
      });
      expect(verified.statusCode).toBe(200);
      expect(Date.parse(verified.json().lastVerifiedAt)).toBeGreaterThan(Date.parse(created.lastVerifiedAt));

      const secret = await t.services.registries.pullSecretFor(created.id, [member.orgId]);
      expect(secret.secretName).toMatch(/^niro-registry-[0-9a-f]{16}$/);
      expect(secret.server).toBe(htpasswd.host);
      const config = JSON.parse(secret.dockerConfigJson);
      expect(config.auths[htpasswd.host]).toEqual({
        username: USER,
        password: PASSWORD,
        auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
      });
      await expect(t.services.registries.pullSecretFor(created.id, [stranger.orgId])).rejects.toMatchObject({
        statusCode: 404,
      });

      const strangerDelete = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/registries/${created.id}`,
        headers: bearer(stranger.token),
      });
      expect(strangerDelete.statusCode).toBe(404);
      const viewerDelete = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/registries/${created.id}`,
        headers: bearer(viewer.token),
      });
      expect(viewerDelete.statusCode).toBe(403);
      const deleted = await t.app.inject({
        method: 'DELETE',
        url: `/api/v1/registries/${created.id}`,
        headers: bearer(member.token),
      });
      expect(deleted.statusCode).toBe(204);
      const audit = await t.services.database.db
        .selectFrom('audit_log')
        .select(['action', 'details'])
        .where('target_id', '=', created.id)
        .orderBy('at')
        .execute();
      expect(audit.map((a) => a.action)).toEqual(['registry.create', 'registry.delete']);
      expectNoSecret(JSON.stringify(audit));
      const names = (await list(member.token)).json().items.map((r: { name: string }) => r.name);
      expect(names).not.toContain('to-delete');
    });

    it('keeps working after NIRO_SECRET_KEY rotation and re-seals under the new key on verify', async () => {
      const created = (
        await create(member.token, { name: 'rotated', server: htpasswd.host, username: USER, password: PASSWORD })
      ).json();
      const rotatedBox = new SecretBox({ keys: `${KEY_B},${KEY_A}` });
      const rotated = new RegistriesService({
        repo: new RegistriesRepository(t.services.database.db, t.clock),
        box: rotatedBox,
        clock: t.clock,
        logger: t.services.logger,
      });
      const secretOf = async () =>
        (
          await t.services.database.db
            .selectFrom('registries')
            .select('secret')
            .where('id', '=', created.id)
            .executeTakeFirstOrThrow()
        ).secret;
      expect(rotatedBox.isStale(await secretOf())).toBe(true);
      const before = JSON.parse((await rotated.pullSecretFor(created.id, [member.orgId])).dockerConfigJson);
      expect(before.auths[htpasswd.host].password).toBe(PASSWORD);

      const scope = await t.services.orgs.scopeFor(member.userId);
      await rotated.verify(scope, created.id, { actor: { type: 'user', id: member.userId, label: null }, ip: null });
      expect(rotatedBox.isStale(await secretOf())).toBe(false);
      // Only key B opens it now, so key A can be dropped from the ring.
      const onlyB = new RegistriesService({
        repo: new RegistriesRepository(t.services.database.db, t.clock),
        box: new SecretBox({ keys: KEY_B }),
        clock: t.clock,
        logger: t.services.logger,
      });
      const after = JSON.parse((await onlyB.pullSecretFor(created.id, [member.orgId])).dockerConfigJson);
      expect(after.auths[htpasswd.host].password).toBe(PASSWORD);
      // The old server (key A only) cannot open it any more: it says so, without the secret.
      await expect(t.services.registries.pullSecretFor(created.id, [member.orgId])).rejects.toMatchObject({
        code: 'registry_secret_unreadable',
      });
    });

    it('pushes an image the registry then serves (test support for image pulls)', async () => {
      const { digest } = await htpasswd.pushImage('team/app', 'v1');
      const res = await fetch(`${htpasswd.url}/v2/team/app/manifests/v1`, {
        method: 'HEAD',
        headers: {
          authorization: basic(USER, PASSWORD),
          accept: 'application/vnd.docker.distribution.manifest.v2+json',
        },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(digest);
    });
  });
});
