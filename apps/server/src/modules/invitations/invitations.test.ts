import { afterAll, beforeAll, expect, it } from 'vitest';
import { sha256Hex } from '../../lib/ids.js';
import { bearer, createTestApp, createUserWithToken, type TestApp, type TestUser } from '../../test-support/app.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { LOGIN_RATE_LIMITS } from '../auth/login-rate-limiter.service.js';
import { responseCookie, SAME_ORIGIN, signIn } from '../auth/test-support/sessions.js';

type InvitationDto = {
  id: string;
  orgId: string;
  email: string;
  role: string;
  createdAt: string;
  expiresAt: string;
  createdBy: string | null;
  expired: boolean;
};
type Created = { invitation: InvitationDto; url: string; token: string };

const HOUR_MS = 60 * 60 * 1000;
const NEW_PASSWORD = 'a brand new passphrase';

describeEachDatabase('invitations', (dialect) => {
  let t: TestApp;
  /** Every token handed out in this suite: none may show up in logs, audit entries or lists. */
  const tokens: string[] = [];

  beforeAll(async () => {
    t = await createTestApp(dialect, { NIRO_PUBLIC_URL: 'http://niro.example.test:8080' });
  });
  afterAll(() => t.dispose());

  const api = (token: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload }) });

  async function invite(by: TestUser, body: object, orgId = by.orgId): Promise<Created> {
    const res = await api(by.token, 'POST', `/api/v1/orgs/${orgId}/invitations`, body);
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json<Created>();
    tokens.push(created.token);
    return created;
  }

  const preview = (token: string) => t.app.inject({ url: `/api/v1/invitations/${token}` });
  const accept = (token: string, payload: object, headers: Record<string, string> = SAME_ORIGIN) =>
    t.app.inject({ method: 'POST', url: `/api/v1/invitations/${token}/accept`, headers, payload });
  const list = async (by: TestUser, orgId = by.orgId) =>
    (await api(by.token, 'GET', `/api/v1/orgs/${orgId}/invitations`)).json<{ items: InvitationDto[] }>().items;
  const freshEmail = () => `invitee-${Math.random().toString(36).slice(2, 10)}@example.test`;
  const auditOf = (action: string) =>
    t.services.database.db.selectFrom('audit_log').selectAll().where('action', '=', action).execute();

  it('creates, lists (newest first) and revokes invitations; the link is shown once and only its hash stored', async () => {
    const owner = await createUserWithToken(t.services);
    const first = await invite(owner, { email: 'New.Person@Example.test', role: 'member' });
    expect(first.token).toMatch(/^niro_inv_[A-Za-z0-9_-]{43}$/);
    expect(first.url).toBe(`http://niro.example.test:8080/invite/${first.token}`);
    expect(first.invitation).toEqual({
      id: expect.any(String),
      orgId: owner.orgId,
      email: 'new.person@example.test',
      role: 'member',
      createdAt: new Date(t.clock.now()).toISOString(),
      expiresAt: new Date(t.clock.now() + 72 * HOUR_MS).toISOString(),
      createdBy: owner.email,
      expired: false,
    });
    t.clock.advance(1000);
    const second = await invite(owner, { email: 'second@example.test', role: 'viewer', expiresInHours: 1 });
    expect(second.invitation.expiresAt).toBe(new Date(t.clock.now() + HOUR_MS).toISOString());

    expect((await list(owner)).map((i) => i.id)).toEqual([second.invitation.id, first.invitation.id]);
    const stored = await t.services.database.db.selectFrom('invitations').selectAll().execute();
    const row = stored.find((r) => r.id === first.invitation.id);
    expect(row?.token_hash).toBe(sha256Hex(first.token));
    expect(JSON.stringify(stored)).not.toContain(first.token);

    const revoked = await api(owner.token, 'DELETE', `/api/v1/orgs/${owner.orgId}/invitations/${first.invitation.id}`);
    expect(revoked.statusCode).toBe(204);
    expect((await list(owner)).map((i) => i.id)).toEqual([second.invitation.id]);
    const again = await api(owner.token, 'DELETE', `/api/v1/orgs/${owner.orgId}/invitations/${first.invitation.id}`);
    expect(again.statusCode).toBe(404);
    expect(again.json()).toMatchObject({ error: { code: 'invitation_not_found' } });
    // A revoked link is as dead as one that never existed.
    expect((await preview(first.token)).json()).toMatchObject({ error: { code: 'invitation_not_found' } });
    expect((await accept(first.token, { password: NEW_PASSWORD })).statusCode).toBe(404);

    const created = (await auditOf('invitation.create')).filter((a) => a.target_id === first.invitation.id);
    expect(created).toHaveLength(1);
    expect(JSON.parse(created[0]?.details ?? '{}')).toMatchObject({ email: 'new.person@example.test', role: 'member' });
    const revokes = (await auditOf('invitation.revoke')).filter((a) => a.target_id === first.invitation.id);
    expect(revokes).toMatchObject([
      { org_id: owner.orgId, actor_label: `${owner.email} (token test)`, outcome: 'success' },
    ]);
  });

  it('lets admins and owners manage invitations, and only owners invite owners', async () => {
    const owner = await createUserWithToken(t.services);
    const admin = await createUserWithToken(t.services, { orgId: owner.orgId, role: 'admin' });
    const member = await createUserWithToken(t.services, { orgId: owner.orgId, role: 'member' });
    const viewer = await createUserWithToken(t.services, { orgId: owner.orgId, role: 'viewer' });
    const outsider = await createUserWithToken(t.services);
    const path = `/api/v1/orgs/${owner.orgId}/invitations`;
    const body = { email: freshEmail(), role: 'viewer' };

    for (const low of [member, viewer]) {
      expect((await api(low.token, 'POST', path, body)).statusCode).toBe(403);
      expect((await api(low.token, 'GET', path)).statusCode).toBe(403);
    }
    // Another tenant's org does not exist as far as an outsider can tell.
    expect((await api(outsider.token, 'POST', path, body)).statusCode).toBe(404);
    expect((await api(outsider.token, 'GET', path)).statusCode).toBe(404);

    for (const role of ['viewer', 'member', 'admin']) await invite(admin, { email: freshEmail(), role }, owner.orgId);
    const byAdmin = await api(admin.token, 'POST', path, { email: freshEmail(), role: 'owner' });
    expect(byAdmin.statusCode).toBe(403);
    expect(byAdmin.json<{ error: { message: string } }>().error.message).toMatch(/Only an owner/);
    const ownerInvite = await invite(owner, { email: freshEmail(), role: 'owner' });

    const target = `${path}/${ownerInvite.invitation.id}`;
    expect((await api(member.token, 'DELETE', target)).statusCode).toBe(403);
    expect((await api(outsider.token, 'DELETE', target)).statusCode).toBe(404);
    expect((await api(admin.token, 'DELETE', target)).statusCode).toBe(204);
    // An invitation is revoked only through its own org.
    const other = await invite(outsider, { email: freshEmail(), role: 'viewer' });
    expect((await api(owner.token, 'DELETE', `${path}/${other.invitation.id}`)).statusCode).toBe(404);
    expect(await list(outsider)).toHaveLength(1);
    expect(await list(admin, owner.orgId)).toHaveLength(3);
  });

  it('rejects bad input with 400 naming the field, including unknown fields', async () => {
    const owner = await createUserWithToken(t.services);
    const path = `/api/v1/orgs/${owner.orgId}/invitations`;
    const bad = [
      { email: freshEmail(), role: 'viewer', extra: true },
      { email: 'not an email', role: 'viewer' },
      { email: freshEmail(), role: 'superuser' },
      { email: freshEmail(), role: 'viewer', expiresInHours: 0 },
      { email: freshEmail(), role: 'viewer', expiresInHours: 721 },
      { role: 'viewer' },
    ];
    for (const body of bad) {
      const res = await api(owner.token, 'POST', path, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    expect(await list(owner)).toEqual([]);

    const { token } = await invite(owner, { email: freshEmail(), role: 'viewer' });
    const unknownField = await accept(token, { password: NEW_PASSWORD, email: 'someone@else.test' });
    expect(unknownField.statusCode).toBe(400);
    expect(unknownField.json()).toMatchObject({
      error: { details: { fields: [{ field: expect.stringMatching(/email/) }] } },
    });
    expect((await accept(token, {})).statusCode).toBe(400);
    // Nothing was used up by the refused requests.
    expect((await preview(token)).statusCode).toBe(200);
  });

  it('accepts for a new user: creates the account, grants the role and signs in; the link then is used', async () => {
    const owner = await createUserWithToken(t.services, { orgName: 'Acme Shops' });
    const email = freshEmail();
    const { token } = await invite(owner, { email, role: 'member' });

    const before = await preview(token);
    expect(before.statusCode).toBe(200);
    expect(before.json()).toEqual({
      orgName: 'Acme Shops',
      email,
      role: 'member',
      expiresAt: new Date(t.clock.now() + 72 * HOUR_MS).toISOString(),
      existingUser: false,
    });

    const short = await accept(token, { password: 'short' });
    expect(short.statusCode).toBe(400);
    expect(short.json()).toMatchObject({ error: { code: 'password_too_short' } });

    const res = await accept(token, { password: NEW_PASSWORD });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ orgId: owner.orgId });
    const cookie = res.cookies.find((c) => c.name === 'niro_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', maxAge: 86_400 });
    const me = await t.app.inject({ url: '/api/v1/me', headers: { cookie: `niro_session=${cookie?.value ?? ''}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ email, orgs: [{ id: owner.orgId, name: 'Acme Shops', role: 'member' }] });
    // The new password signs in from now on.
    await signIn(t.app, email, NEW_PASSWORD);

    expect((await preview(token)).statusCode).toBe(410);
    expect((await preview(token)).json()).toMatchObject({ error: { code: 'invitation_used' } });
    const again = await accept(token, { password: NEW_PASSWORD });
    expect(again.statusCode).toBe(410);
    expect(again.json()).toMatchObject({ error: { code: 'invitation_used' } });
    expect(await list(owner)).toEqual([]);

    const accepted = await auditOf('invitation.accept');
    expect(accepted.filter((a) => a.org_id === owner.orgId)).toMatchObject([
      { actor_type: 'user', actor_label: email, outcome: 'success' },
    ]);
  });

  it('accepts for an existing user with their password, keeps a higher role, and counts wrong passwords like sign-in', async () => {
    const owner = await createUserWithToken(t.services);
    const existing = await createUserWithToken(t.services);
    const { token } = await invite(owner, { email: existing.email.toUpperCase(), role: 'viewer' });
    expect((await preview(token)).json()).toMatchObject({ existingUser: true, email: existing.email });

    const wrong = await accept(token, { password: 'not their password' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ error: { code: 'invalid_credentials' } });
    expect(responseCookie(wrong)).toBeUndefined();
    const ok = await accept(token, { password: existing.password });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(responseCookie(ok)).toBeDefined();
    const members = await api(owner.token, 'GET', `/api/v1/orgs/${owner.orgId}/members`);
    expect(members.json<{ items: { email: string; role: string }[] }>().items).toContainEqual(
      expect.objectContaining({ email: existing.email, role: 'viewer' }),
    );

    // Already an admin there: a viewer invitation does not demote them.
    const admin = await createUserWithToken(t.services, { orgId: owner.orgId, role: 'admin' });
    const lower = await invite(owner, { email: admin.email, role: 'viewer' });
    expect((await accept(lower.token, { password: admin.password })).statusCode).toBe(200);
    const after = await api(owner.token, 'GET', `/api/v1/orgs/${owner.orgId}/members`);
    expect(after.json<{ items: { email: string; role: string }[] }>().items).toContainEqual(
      expect.objectContaining({ email: admin.email, role: 'admin' }),
    );

    // Wrong passwords here count against the account like failed sign-ins.
    const target = await createUserWithToken(t.services);
    const guessed = await invite(owner, { email: target.email, role: 'member' });
    for (let i = 0; i < LOGIN_RATE_LIMITS.perAccount.max; i++) {
      expect((await accept(guessed.token, { password: `guess ${i}` })).statusCode).toBe(401);
    }
    const locked = await accept(guessed.token, { password: target.password });
    expect(locked.statusCode).toBe(429);
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: target.email, password: target.password },
    });
    expect(login.statusCode).toBe(429);
    expect((await preview(guessed.token)).statusCode).toBe(200);
    const failures = (await auditOf('invitation.accept')).filter((a) => a.outcome === 'failure');
    expect(failures.length).toBeGreaterThanOrEqual(LOGIN_RATE_LIMITS.perAccount.max + 2);
  });

  it('refuses expired links with 410 and lists them as expired', async () => {
    const owner = await createUserWithToken(t.services);
    const { token, invitation } = await invite(owner, { email: freshEmail(), role: 'member', expiresInHours: 1 });
    t.clock.advance(HOUR_MS);
    const res = await preview(token);
    expect(res.statusCode).toBe(410);
    expect(res.json()).toMatchObject({ error: { code: 'invitation_expired' } });
    const acc = await accept(token, { password: NEW_PASSWORD });
    expect(acc.statusCode).toBe(410);
    expect(acc.json()).toMatchObject({ error: { code: 'invitation_expired' } });
    expect(await list(owner)).toMatchObject([{ id: invitation.id, expired: true }]);
    const unknown = await preview('niro_inv_doesnotexist');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'invitation_not_found' } });
  });

  it('is single use: of two concurrent acceptances exactly one succeeds', async () => {
    const owner = await createUserWithToken(t.services);
    const email = freshEmail();
    const { token } = await invite(owner, { email, role: 'member' });
    const results = await Promise.all([
      accept(token, { password: NEW_PASSWORD }),
      accept(token, { password: 'another passphrase' }),
    ]);
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes, results.map((r) => r.body).join('\n')).toEqual([200, 410]);
    expect(results.find((r) => r.statusCode === 410)?.json()).toMatchObject({ error: { code: 'invitation_used' } });
    const users = await t.services.database.db.selectFrom('users').select('id').where('email', '=', email).execute();
    expect(users).toHaveLength(1);
    const members = await api(owner.token, 'GET', `/api/v1/orgs/${owner.orgId}/members`);
    expect(members.json<{ items: { email: string }[] }>().items.filter((m) => m.email === email)).toHaveLength(1);

    // The same for an existing account.
    const existing = await createUserWithToken(t.services);
    const second = await invite(owner, { email: existing.email, role: 'admin' });
    const both = await Promise.all([
      accept(second.token, { password: existing.password }),
      accept(second.token, { password: existing.password }),
    ]);
    expect(both.map((r) => r.statusCode).sort()).toEqual([200, 410]);
  });

  it('is CSRF-safe like sign-in, and rotates the session of a browser already signed in', async () => {
    const owner = await createUserWithToken(t.services);
    const { token } = await invite(owner, { email: freshEmail(), role: 'member' });
    const crossSite = await accept(
      token,
      { password: NEW_PASSWORD },
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    );
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.json()).toMatchObject({ error: { code: 'csrf_rejected' } });
    expect((await preview(token)).json()).toMatchObject({ existingUser: false });

    // Someone else is signed in in this browser: accepting ends that session and starts the invitee's.
    const other = await createUserWithToken(t.services);
    const previous = await signIn(t.app, other.email, other.password);
    const withCookie = await accept(token, { password: NEW_PASSWORD }, { ...previous.cookie, ...SAME_ORIGIN });
    expect(withCookie.statusCode, withCookie.body).toBe(200);
    expect((await t.app.inject({ url: '/api/v1/me', headers: previous.cookie })).statusCode).toBe(401);
  });

  it('never writes a token to a log line, an audit entry or a listing', async () => {
    const owner = await createUserWithToken(t.services);
    const existing = await createUserWithToken(t.services);
    const a = await invite(owner, { email: existing.email, role: 'member' });
    const b = await invite(owner, { email: freshEmail(), role: 'viewer' });
    await preview(a.token);
    await accept(a.token, { password: 'wrong password' });
    await accept(a.token, { password: existing.password });
    await accept(a.token, { password: existing.password });
    await preview(`${b.token}x`);
    // The page the link opens: served (the test run builds the dashboard), never logged, no Referer.
    const page = await t.app.inject({ url: `/invite/${b.token}` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    const listing = (await api(owner.token, 'GET', `/api/v1/orgs/${owner.orgId}/invitations`)).body;
    const audit = JSON.stringify(await t.services.database.db.selectFrom('audit_log').selectAll().execute());
    const auditApi = (await api(owner.token, 'GET', '/api/v1/audit?limit=200')).body;
    const logs = t.logs.join('\n');
    expect(logs).toContain('invitation');
    for (const token of tokens) {
      for (const [where, text] of [
        ['logs', logs],
        ['audit', audit],
        ['audit API', auditApi],
        ['listing', listing],
      ] as const) {
        expect(text, where).not.toContain(token);
        expect(text, where).not.toContain(sha256Hex(token));
      }
    }
  });
});
