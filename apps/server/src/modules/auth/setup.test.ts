import { afterEach, beforeEach, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test-support/app.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { responseCookie } from './test-support/sessions.js';

describeEachDatabase('first-run setup', (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(() => t.dispose());

  const setup = (payload: object, opts: { remoteAddress?: string; headers?: Record<string, string> } = {}) =>
    t.app.inject({ method: 'POST', url: '/api/v1/setup', payload, ...opts });
  const counts = async () => {
    const db = t.services.database.db;
    const n = async (table: 'users' | 'orgs' | 'memberships') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return { users: await n('users'), orgs: await n('orgs'), memberships: await n('memberships') };
  };

  it('creates the first admin and the root org, signs in, and then refuses to run again', async () => {
    expect((await t.app.inject('/api/v1/setup')).json()).toEqual({ needsSetup: true });
    const res = await setup({
      email: 'Admin@Example.test',
      password: 'a long passphrase',
      name: 'Ada',
      orgName: 'Acme',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      email: 'admin@example.test',
      name: 'Ada',
      orgs: [{ name: 'Acme', role: 'owner', parentId: null }],
    });
    const cookie = responseCookie(res);
    const me = await t.app.inject({ url: '/api/v1/me', headers: { cookie: `niro_session=${cookie}` } });
    expect(me.json()).toMatchObject({ email: 'admin@example.test' });
    expect((await t.app.inject('/api/v1/setup')).json()).toEqual({ needsSetup: false });

    const again = await setup({ email: 'mallory@example.test', password: 'another passphrase' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'already_set_up' } });
    expect(await counts()).toEqual({ users: 1, orgs: 1, memberships: 1 });
  });

  it('only accepts loopback clients, including through proxies', async () => {
    const body = { email: 'admin@example.test', password: 'a long passphrase' };
    const remote: { remoteAddress?: string; headers?: Record<string, string> }[] = [
      { remoteAddress: '203.0.113.7' },
      { remoteAddress: '10.0.0.2' },
      { headers: { 'x-forwarded-for': '203.0.113.7' } },
      { headers: { 'x-forwarded-for': '127.0.0.1, 203.0.113.7' } },
      { headers: { forwarded: 'for=203.0.113.7;proto=https' } },
      { headers: { 'x-real-ip': '203.0.113.7' } },
    ];
    for (const opts of remote) {
      const res = await setup(body, opts);
      expect(res.statusCode, JSON.stringify(opts)).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'setup_requires_loopback' } });
    }
    expect(await counts()).toEqual({ users: 0, orgs: 0, memberships: 0 });
    expect((await setup(body, { remoteAddress: '::1' })).statusCode).toBe(201);
  });

  it('requires a password of at least 8 characters and names the field', async () => {
    const res = await setup({ email: 'admin@example.test', password: 'short' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { details: { fields: [{ field: 'body.password' }] } } });
    const email = await setup({ email: 'not-an-email', password: 'a long passphrase' });
    expect(email.json()).toMatchObject({ error: { details: { fields: [{ field: 'body.email' }] } } });
    expect(await counts()).toEqual({ users: 0, orgs: 0, memberships: 0 });
  });

  it('lets exactly one of several concurrent setups win', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => setup({ email: `admin${i}@example.test`, password: 'a long passphrase' })),
    );
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes).toEqual([201, 409, 409, 409, 409, 409]);
    expect(await counts()).toEqual({ users: 1, orgs: 1, memberships: 1 });
  });

  it('is not needed after NIRO_ADMIN_* created the first admin, which happens once', async () => {
    const first = await t.services.auth.bootstrapAdmin({ email: 'root@example.test', password: 'a long passphrase' });
    expect(first?.email).toBe('root@example.test');
    expect(
      await t.services.auth.bootstrapAdmin({ email: 'other@example.test', password: 'a long passphrase' }),
    ).toBeNull();
    expect((await t.app.inject('/api/v1/setup')).json()).toEqual({ needsSetup: false });
    expect((await setup({ email: 'x@example.test', password: 'a long passphrase' })).statusCode).toBe(409);
    expect(await counts()).toEqual({ users: 1, orgs: 1, memberships: 1 });
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'root@example.test', password: 'a long passphrase' },
    });
    expect(login.json()).toMatchObject({ orgs: [{ name: 'Default', role: 'owner' }] });
  });
});
