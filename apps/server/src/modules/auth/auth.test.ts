import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../lib/ids.js';
import { bearer, createTestApp, createUserWithToken, type TestApp } from '../../test-support/app.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { SESSION_TTL_MS } from './sessions.service.js';
import { responseCookie, SAME_ORIGIN, signIn } from './test-support/sessions.js';

describeEachDatabase('sign-in and sessions', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.dispose());

  it('signs in with email and password: an HttpOnly, SameSite=Lax, 24 h cookie whose hash alone is stored', async () => {
    const u = await createUserWithToken(t.services, { email: 'Ada@Example.test', orgName: 'Acme' });
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'ada@example.test', password: u.password },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: u.userId,
      email: 'ada@example.test',
      orgs: [{ id: u.orgId, role: 'owner' }],
    });
    const cookie = res.cookies.find((c) => c.name === 'niro_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', maxAge: 86_400 });
    expect(cookie?.secure).toBeUndefined();
    const value = cookie?.value ?? '';
    expect(Buffer.from(value, 'base64url').length).toBeGreaterThanOrEqual(32);

    const rows = await t.services.database.db
      .selectFrom('sessions')
      .selectAll()
      .where('user_id', '=', u.userId)
      .execute();
    expect(rows.map((r) => r.id)).toEqual([sha256Hex(value)]);
    expect(rows[0]?.expires_at).toBe(t.clock.now() + SESSION_TTL_MS);
  });

  it('answers GET /me for the session with every visible org and the effective role', async () => {
    const u = await createUserWithToken(t.services, { role: 'admin' });
    const child = await t.services.orgs.create('Child', u.orgId, null);
    const { cookie } = await signIn(t.app, u.email, u.password);
    const me = await t.app.inject({ url: '/api/v1/me', headers: cookie });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({
      id: u.userId,
      email: u.email,
      name: expect.any(String),
      orgs: [
        { id: u.orgId, parentId: null, name: expect.any(String), role: 'admin', createdAt: expect.any(String) },
        { id: child.id, parentId: u.orgId, name: 'Child', role: 'admin', createdAt: expect.any(String) },
      ],
    });
    expect((await t.app.inject({ url: '/api/v1/me' })).statusCode).toBe(401);
  });

  it('gives a wrong email and a wrong password the same 401 invalid_credentials', async () => {
    const u = await createUserWithToken(t.services);
    const wrongPassword = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: u.email, password: 'not the password' },
    });
    const wrongEmail = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'nobody@example.test', password: u.password },
    });
    expect(wrongPassword.statusCode).toBe(401);
    expect(wrongEmail.statusCode).toBe(401);
    expect(wrongPassword.json()).toEqual(wrongEmail.json());
    expect(wrongPassword.json()).toMatchObject({ error: { code: 'invalid_credentials' } });
    expect(wrongPassword.headers['set-cookie']).toBeUndefined();
  });

  it('rejects a login body with unknown fields or the wrong types, naming the field', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'a@example.test', password: 'x', remember: true },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      error: { code: 'invalid_request', details: { fields: [{ field: 'body.remember' }] } },
    });
    const typed = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'a@b.c', password: 1 },
    });
    expect(typed.json()).toMatchObject({ error: { details: { fields: [{ field: 'body.password' }] } } });
  });

  it('logs out: the session is deleted on the server and the cookie cleared', async () => {
    const u = await createUserWithToken(t.services);
    const { cookie, value } = await signIn(t.app, u.email, u.password);
    const out = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: { ...cookie, ...SAME_ORIGIN },
    });
    expect(out.statusCode).toBe(204);
    const cleared = out.cookies.find((c) => c.name === 'niro_session');
    expect(cleared?.value).toBe('');
    expect(cleared?.maxAge).toBe(0);
    const row = await t.services.database.db
      .selectFrom('sessions')
      .select('id')
      .where('id', '=', sha256Hex(value))
      .executeTakeFirst();
    expect(row).toBeUndefined();
    expect((await t.app.inject({ url: '/api/v1/me', headers: cookie })).statusCode).toBe(401);
  });

  it('rotates the session on login: the cookie sent with the login stops working', async () => {
    const u = await createUserWithToken(t.services);
    const first = await signIn(t.app, u.email, u.password);
    const again = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { ...first.cookie, ...SAME_ORIGIN },
      payload: { email: u.email, password: u.password },
    });
    expect(again.statusCode).toBe(200);
    const second = responseCookie(again);
    expect(second).toBeDefined();
    expect(second).not.toBe(first.value);
    expect((await t.app.inject({ url: '/api/v1/me', headers: first.cookie })).statusCode).toBe(401);
    expect((await t.app.inject({ url: '/api/v1/me', headers: { cookie: `niro_session=${second}` } })).statusCode).toBe(
      200,
    );
  });

  it('ends a session 24 hours after sign-in, however active it was', async () => {
    const u = await createUserWithToken(t.services);
    const { cookie } = await signIn(t.app, u.email, u.password);
    t.clock.advance(SESSION_TTL_MS - 1000);
    expect((await t.app.inject({ url: '/api/v1/me', headers: cookie })).statusCode).toBe(200);
    t.clock.advance(1000);
    const expired = await t.app.inject({ url: '/api/v1/me', headers: cookie });
    expect(expired.statusCode).toBe(401);
    expect(expired.cookies.find((c) => c.name === 'niro_session')?.value).toBe('');
  });

  it('lets a browser with a stale cookie sign in again', async () => {
    const u = await createUserWithToken(t.services);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { cookie: 'niro_session=stale-or-forged', ...SAME_ORIGIN },
      payload: { email: u.email, password: u.password },
    });
    expect(res.statusCode).toBe(200);
    expect(responseCookie(res)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  describe('CSRF', () => {
    it('refuses cookie-authenticated writes without same-origin evidence', async () => {
      const u = await createUserWithToken(t.services);
      const { cookie } = await signIn(t.app, u.email, u.password);
      const create = (headers: Record<string, string>) =>
        t.app.inject({
          method: 'POST',
          url: '/api/v1/tokens',
          headers: { ...cookie, ...headers },
          payload: { name: 'x' },
        });
      const refused: Record<string, string>[] = [
        {},
        { 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'same-site' },
        { origin: 'https://evil.example' },
        { origin: 'null' },
        { origin: 'http://localhost.evil.example' },
      ];
      for (const headers of refused) {
        const res = await create(headers);
        expect(res.statusCode, JSON.stringify(headers)).toBe(403);
        expect(res.json()).toMatchObject({ error: { code: 'csrf_rejected' } });
      }
      const deleted = await t.app.inject({
        method: 'DELETE',
        url: '/api/v1/tokens/whatever',
        headers: { ...cookie, origin: 'https://evil.example', 'content-type': 'text/plain' },
        payload: 'a=b',
      });
      expect(deleted.json()).toMatchObject({ error: { code: 'csrf_rejected' } });

      expect((await create({ 'sec-fetch-site': 'same-origin' })).statusCode).toBe(201);
      expect((await create({ 'sec-fetch-site': 'none' })).statusCode).toBe(201);
      expect((await create({ origin: 'http://localhost' })).statusCode).toBe(201);
      expect((await create({ origin: 'http://127.0.0.1:8080' })).statusCode).toBe(201); // NIRO_PUBLIC_URL
      // Reads need no proof.
      expect((await t.app.inject({ url: '/api/v1/tokens', headers: cookie })).statusCode).toBe(200);
      // Nothing was created by the refused requests.
      const tokens = (await t.app.inject({ url: '/api/v1/tokens', headers: bearer(u.token) })).json<{
        items: unknown[];
      }>();
      expect(tokens.items).toHaveLength(5);
    });

    it('exempts bearer-token requests', async () => {
      const u = await createUserWithToken(t.services);
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: { ...bearer(u.token), origin: 'https://elsewhere.example' },
        payload: { name: 'from a script' },
      });
      expect(res.statusCode).toBe(201);
    });

    it('refuses a sign-in started by another site, but not one from a script', async () => {
      const u = await createUserWithToken(t.services);
      const login = (headers: Record<string, string>) =>
        t.app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          headers,
          payload: { email: u.email, password: u.password },
        });
      const crossSite = await login({ 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' });
      expect(crossSite.statusCode).toBe(403);
      expect(crossSite.json()).toMatchObject({ error: { code: 'csrf_rejected' } });
      expect((await login({})).statusCode).toBe(200);
    });
  });
});

describeEachDatabase('session cookie behind TLS', (dialect) => {
  it('uses the __Host- name and Secure when the public URL is https', async () => {
    const t = await createTestApp(dialect, { NIRO_PUBLIC_URL: 'https://niro.example.com' });
    try {
      const u = await createUserWithToken(t.services);
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: u.email, password: u.password },
      });
      const cookie = res.cookies.find((c) => c.name === '__Host-niro_session');
      expect(cookie).toMatchObject({ secure: true, httpOnly: true, path: '/', sameSite: 'Lax' });
      expect(cookie?.domain).toBeUndefined();
      const value = cookie?.value ?? '';
      expect(
        (await t.app.inject({ url: '/api/v1/me', headers: { cookie: `__Host-niro_session=${value}` } })).statusCode,
      ).toBe(200);
      // A cookie without the prefix could have been planted by a sibling subdomain: ignored.
      expect((await t.app.inject({ url: '/api/v1/me', headers: { cookie: `niro_session=${value}` } })).statusCode).toBe(
        401,
      );
      // The Origin of the public URL passes the CSRF check.
      const write = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: { cookie: `__Host-niro_session=${value}`, origin: 'https://niro.example.com' },
        payload: { name: 'ok' },
      });
      expect(write.statusCode).toBe(201);
    } finally {
      await t.dispose();
    }
  });

  it('trusts X-Forwarded-Proto only with NIRO_TRUST_PROXY', async () => {
    for (const trust of ['true', 'false']) {
      const t = await createTestApp(dialect, { NIRO_TRUST_PROXY: trust });
      try {
        const u = await createUserWithToken(t.services);
        const res = await t.app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          headers: { 'x-forwarded-proto': 'https' },
          payload: { email: u.email, password: u.password },
        });
        expect(res.cookies.map((c) => [c.name, c.secure ?? false])).toEqual(
          trust === 'true' ? [['__Host-niro_session', true]] : [['niro_session', false]],
        );
      } finally {
        await t.dispose();
      }
    }
  });
});
