import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, createTestApp, createUserWithToken, type TestApp } from '../../test-support/app.js';
import { describeEachDatabase } from '../../test-support/databases.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describeEachDatabase('API tokens', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.dispose());

  it('trades email and password for a working token (POST /auth/token)', async () => {
    const u = await createUserWithToken(t.services);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      payload: { email: u.email, password: u.password, name: 'laptop' },
    });
    expect(res.statusCode).toBe(201);
    const { token } = res.json<{ token: string }>();
    expect(token).toMatch(/^niro_pat_[A-Za-z0-9_-]{43}$/);
    const me = await t.app.inject({ url: '/api/v1/me', headers: bearer(token) });
    expect(me.json()).toMatchObject({ id: u.userId });
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      payload: { email: u.email, password: 'wrong password', name: 'laptop' },
    });
    expect(bad.statusCode).toBe(401);
    expect(bad.json()).toMatchObject({ error: { code: 'invalid_credentials' } });
  });

  it('creates a token once, lists it without its secret, and revokes it at once', async () => {
    const u = await createUserWithToken(t.services);
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(u.token),
      payload: { name: 'ci', expiresInDays: 30 },
    });
    expect(created.statusCode).toBe(201);
    const body = created.json<{ token: string; apiToken: { id: string; name: string; expiresAt: string } }>();
    expect(body.token.startsWith('niro_pat_')).toBe(true);
    expect(body.apiToken).toMatchObject({ name: 'ci', lastUsedAt: null });
    expect(Date.parse(body.apiToken.expiresAt)).toBe(t.clock.now() + 30 * DAY_MS);

    const stored = await t.services.database.db
      .selectFrom('api_tokens')
      .select('token_hash')
      .where('id', '=', body.apiToken.id)
      .executeTakeFirstOrThrow();
    expect(stored.token_hash).not.toContain(body.token);

    const list = await t.app.inject({ url: '/api/v1/tokens', headers: bearer(body.token) });
    expect(list.statusCode).toBe(200);
    expect(
      list
        .json<{ items: { name: string }[] }>()
        .items.map((i) => i.name)
        .sort(),
    ).toEqual(['ci', 'test']);
    expect(list.body).not.toContain(body.token);
    expect(list.body).not.toContain(stored.token_hash);
    expect(list.body).not.toContain(u.token);

    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/tokens/${body.apiToken.id}`,
      headers: bearer(u.token),
    });
    expect(revoked.statusCode).toBe(204);
    const after = await t.app.inject({ url: '/api/v1/me', headers: bearer(body.token) });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ error: { code: 'invalid_token' } });
    const again = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/tokens/${body.apiToken.id}`,
      headers: bearer(u.token),
    });
    expect(again.statusCode).toBe(404);
  });

  it("cannot see or revoke another user's token", async () => {
    const a = await createUserWithToken(t.services);
    const b = await createUserWithToken(t.services);
    const bTokens = await t.services.auth.listTokens(b.userId);
    const id = bTokens[0]?.id ?? '';
    const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: bearer(a.token) });
    expect(res.statusCode).toBe(404);
    expect((await t.app.inject({ url: '/api/v1/me', headers: bearer(b.token) })).statusCode).toBe(200);
    const list = await t.app.inject({ url: '/api/v1/tokens', headers: bearer(a.token) });
    expect(list.json<{ items: { id: string }[] }>().items.map((i) => i.id)).not.toContain(id);
  });

  it('stops accepting a token when it expires', async () => {
    const u = await createUserWithToken(t.services);
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(u.token),
      payload: { name: 'short', expiresInDays: 1 },
    });
    const { token } = created.json<{ token: string }>();
    t.clock.advance(DAY_MS - 1);
    expect((await t.app.inject({ url: '/api/v1/me', headers: bearer(token) })).statusCode).toBe(200);
    t.clock.advance(1);
    expect((await t.app.inject({ url: '/api/v1/me', headers: bearer(token) })).statusCode).toBe(401);
  });

  it('rejects bad token requests naming the field, and creates nothing', async () => {
    const u = await createUserWithToken(t.services);
    for (const [payload, field] of [
      [{ name: 'x', expiresInDays: 0 }, 'body.expiresInDays'],
      [{ name: 'x', expiresInDays: '5' }, 'body.expiresInDays'],
      [{ name: '' }, 'body.name'],
      [{ name: 'x', scopes: ['all'] }, 'body.scopes'],
    ] as const) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(u.token), payload });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'invalid_request', details: { fields: [{ field }] } } });
    }
    expect(await t.services.auth.listTokens(u.userId)).toHaveLength(1);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name: 'x' } })).statusCode).toBe(
      401,
    );
  });

  it('answers a malformed or unknown bearer with 401 invalid_token', async () => {
    for (const authorization of ['Bearer niro_pat_nope', 'Bearer', 'Basic dXNlcjpwYXNz']) {
      const res = await t.app.inject({ url: '/api/v1/me', headers: { authorization } });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'invalid_token' } });
    }
  });
});
