import { afterEach, beforeEach, expect, it } from 'vitest';
import { bearer, createTestApp, createUserWithToken, type TestApp } from '../../test-support/app.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { responseCookie, SAME_ORIGIN, signIn } from '../auth/test-support/sessions.js';

type Entry = {
  id: string;
  action: string;
  outcome: string;
  orgId: string | null;
  actor: { type: string; id: string | null; label: string | null };
  target: { type: string; id: string } | null;
  ip: string | null;
};

describeEachDatabase('audit log', (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(() => t.dispose());

  const auditRows = () => t.services.database.db.selectFrom('audit_log').selectAll().orderBy('id').execute();
  const tick = () => t.clock.advance(1000);

  it('records one entry for every account write, with actor, target, org and address', async () => {
    const setup = await t.app.inject({
      method: 'POST',
      url: '/api/v1/setup',
      payload: { email: 'admin@example.test', password: 'admin passphrase', orgName: 'Root' },
    });
    const admin = setup.json<{ id: string; orgs: { id: string }[] }>();
    const rootId = admin.orgs[0]?.id ?? '';
    tick();
    const from = (ip: string) => ({ remoteAddress: ip });
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      ...from('192.0.2.10'),
      payload: { email: 'admin@example.test', password: 'admin passphrase' },
    });
    const session = { cookie: `niro_session=${responseCookie(login) ?? ''}`, ...SAME_ORIGIN };
    tick();
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      ...from('192.0.2.11'),
      payload: { email: 'admin@example.test', password: 'wrong passphrase' },
    });
    tick();
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      payload: { email: 'admin@example.test', password: 'admin passphrase', name: 'cli' },
    });
    tick();
    const token = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: session,
      payload: { name: 'ci' },
    });
    const tokenId = token.json<{ apiToken: { id: string } }>().apiToken.id;
    tick();
    await t.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${tokenId}`, headers: session });
    tick();
    const child = await t.app.inject({
      method: 'POST',
      url: '/api/v1/orgs',
      headers: session,
      payload: { name: 'Child', parentId: rootId },
    });
    const childId = child.json<{ id: string }>().id;
    tick();
    await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/orgs/${childId}`,
      headers: session,
      payload: { name: 'Child 2' },
    });
    tick();
    const bob = await t.services.auth.createUser({ email: 'bob@example.test', password: 'bob passphrase' });
    await t.app.inject({
      method: 'POST',
      url: `/api/v1/orgs/${rootId}/members`,
      ...from('192.0.2.12'),
      headers: session,
      payload: { email: 'bob@example.test', role: 'member' },
    });
    tick();
    await t.app.inject({ method: 'DELETE', url: `/api/v1/orgs/${rootId}/members/${bob.id}`, headers: session });
    tick();
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: session });
    // Reads and refused requests write nothing.
    await t.app.inject({ url: '/api/v1/me', headers: session });
    await t.app.inject({ method: 'PATCH', url: `/api/v1/orgs/${childId}`, payload: { name: 'anonymous' } });

    const rows = await auditRows();
    expect(rows.map((r) => [r.action, r.outcome])).toEqual([
      ['auth.setup', 'success'],
      ['auth.login', 'success'],
      ['auth.login', 'failure'],
      ['auth.token', 'success'],
      ['token.create', 'success'],
      ['token.revoke', 'success'],
      ['org.create', 'success'],
      ['org.rename', 'success'],
      ['org.member.add', 'success'],
      ['org.member.remove', 'success'],
      ['auth.logout', 'success'],
    ]);
    const byAction = (a: string, outcome = 'success') => rows.find((r) => r.action === a && r.outcome === outcome);
    expect(byAction('auth.setup')).toMatchObject({ actor_id: admin.id, org_id: rootId, ip: '127.0.0.1' });
    expect(byAction('auth.login')).toMatchObject({
      actor_type: 'user',
      actor_id: admin.id,
      actor_label: 'admin@example.test',
      target_type: 'user',
      target_id: admin.id,
      ip: '192.0.2.10',
    });
    expect(byAction('auth.login', 'failure')).toMatchObject({
      actor_type: 'anonymous',
      actor_label: 'admin@example.test',
      target_id: admin.id,
      ip: '192.0.2.11',
    });
    expect(byAction('token.revoke')).toMatchObject({ target_type: 'api_token', target_id: tokenId });
    expect(byAction('org.create')).toMatchObject({ org_id: childId, target_id: childId });
    expect(JSON.parse(byAction('org.rename')?.details ?? '{}')).toEqual({ from: 'Child', to: 'Child 2' });
    expect(byAction('org.member.add')).toMatchObject({
      org_id: rootId,
      target_type: 'user',
      target_id: bob.id,
      ip: '192.0.2.12',
    });
    expect(byAction('org.member.remove')).toMatchObject({ org_id: rootId, target_id: bob.id });
  });

  it('shows org entries to admins and owners of the org (and of its parents), and account events to their user', async () => {
    const owner = await createUserWithToken(t.services, { orgName: 'MSP' });
    const a = await t.services.orgs.create('A', owner.orgId, null);
    const b = await t.services.orgs.create('B', owner.orgId, null);
    const aAdmin = await createUserWithToken(t.services, { orgId: a.id, role: 'admin' });
    const bAdmin = await createUserWithToken(t.services, { orgId: b.id, role: 'admin' });
    const member = await createUserWithToken(t.services, { orgId: owner.orgId, role: 'member' });
    const rename = (token: string, orgId: string, name: string) =>
      t.app.inject({ method: 'PATCH', url: `/api/v1/orgs/${orgId}`, headers: bearer(token), payload: { name } });
    expect((await rename(owner.token, owner.orgId, 'MSP 2')).statusCode).toBe(200);
    expect((await rename(aAdmin.token, a.id, 'A 2')).statusCode).toBe(200);
    expect((await rename(bAdmin.token, b.id, 'B 2')).statusCode).toBe(200);
    await signIn(t.app, member.email, member.password);

    const seen = async (token: string) => {
      const res = await t.app.inject({ url: '/api/v1/audit', headers: bearer(token) });
      expect(res.statusCode).toBe(200);
      return res
        .json<{ items: Entry[] }>()
        .items.map((e) => `${e.action}:${e.orgId ?? e.actor.label ?? ''}`)
        .sort();
    };
    expect(await seen(owner.token)).toEqual(
      [`org.rename:${owner.orgId}`, `org.rename:${a.id}`, `org.rename:${b.id}`].sort(),
    );
    expect(await seen(aAdmin.token)).toEqual([`org.rename:${a.id}`]);
    expect(await seen(bAdmin.token)).toEqual([`org.rename:${b.id}`]);
    expect(await seen(member.token)).toEqual([`auth.login:${member.email}`]);
    expect((await t.app.inject({ url: '/api/v1/audit' })).statusCode).toBe(401);
  });

  it('filters by actor and action and pages with a cursor', async () => {
    const owner = await createUserWithToken(t.services);
    const other = await createUserWithToken(t.services, { orgId: owner.orgId, role: 'admin' });
    const { cookie } = await signIn(t.app, owner.email, owner.password);
    for (let i = 0; i < 3; i++) {
      tick();
      await t.app.inject({
        method: 'PATCH',
        url: `/api/v1/orgs/${owner.orgId}`,
        headers: bearer(owner.token),
        payload: { name: `by token ${i}` },
      });
    }
    tick();
    await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/orgs/${owner.orgId}`,
      headers: { ...cookie, ...SAME_ORIGIN },
      payload: { name: 'by session' },
    });
    tick();
    await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/orgs/${owner.orgId}`,
      headers: bearer(other.token),
      payload: { name: 'by the other admin' },
    });

    const get = async (query: string) => {
      const res = await t.app.inject({ url: `/api/v1/audit?${query}`, headers: bearer(owner.token) });
      expect(res.statusCode).toBe(200);
      return res.json<{ items: Entry[]; nextCursor: string | null }>();
    };
    const renamesByOwner = await get(`action=org.rename&actor=${encodeURIComponent(owner.email)}`);
    expect(renamesByOwner.items.map((e) => e.actor.type)).toEqual(['user', 'token', 'token', 'token']);
    expect((await get(`action=org.rename&actor=${owner.userId}`)).items).toHaveLength(4);
    expect((await get(`actor=${encodeURIComponent(other.email)}`)).items).toHaveLength(1);
    expect((await get('action=auth.login')).items).toHaveLength(1);

    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const page = await get(`action=org.rename&limit=2${cursor === null ? '' : `&before=${cursor}`}`);
      pages.push(page.items.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    const all = pages.flat();
    expect(new Set(all).size).toBe(5);
    expect([...all].sort().reverse()).toEqual(all);

    const bad = await t.app.inject({ url: '/api/v1/audit?limit=0', headers: bearer(owner.token) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { details: { fields: [{ field: 'querystring.limit' }] } } });
  });

  it('never writes a password, token or session cookie to a log line or an audit row', async () => {
    const secrets: string[] = [];
    const adminPassword = 'setup passphrase 7f3a';
    secrets.push(adminPassword);
    const setup = await t.app.inject({
      method: 'POST',
      url: '/api/v1/setup',
      payload: { email: 'admin@example.test', password: adminPassword },
    });
    secrets.push(responseCookie(setup) ?? 'missing');
    for (const wrong of ['wrong passphrase 91c2', 'sh0rt']) {
      secrets.push(wrong);
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'admin@example.test', password: wrong },
      });
    }
    // A password typed into the email field.
    secrets.push('passphrase-in-the-email-field');
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'passphrase-in-the-email-field', password: adminPassword },
    });
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/setup',
      payload: { email: 'x@example.test', password: 'ti9y' },
    });
    secrets.push('ti9y');
    const session = await signIn(t.app, 'admin@example.test', adminPassword);
    secrets.push(session.value);
    const exchanged = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      payload: { email: 'admin@example.test', password: adminPassword, name: 'cli' },
    });
    const cliToken = exchanged.json<{ token: string }>().token;
    secrets.push(cliToken);
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { ...session.cookie, ...SAME_ORIGIN },
      payload: { name: 'ci' },
    });
    const ciToken = created.json<{ token: string; apiToken: { id: string } }>();
    secrets.push(ciToken.token);
    await t.app.inject({ url: '/api/v1/me', headers: bearer(ciToken.token) });
    await t.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${ciToken.apiToken.id}`, headers: bearer(cliToken) });
    await t.app.inject({ url: '/api/v1/me', headers: bearer(ciToken.token) });
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { ...session.cookie, ...SAME_ORIGIN } });
    await t.app.inject({ url: '/api/v1/me', headers: session.cookie });
    const helper = await createUserWithToken(t.services);
    secrets.push(helper.token, helper.password);
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { authorization: `Bearer ${helper.token}x` },
      payload: { email: helper.email, password: helper.password },
    });

    expect(secrets.every((s) => s.length >= 4)).toBe(true);
    expect(t.logs.length).toBeGreaterThan(20);
    const logText = t.logs.join('\n');
    const auditText = JSON.stringify(await auditRows());
    const hits = secrets.flatMap((s) => [
      ...(logText.includes(s) ? [`log: ${s.slice(0, 6)}…`] : []),
      ...(auditText.includes(s) ? [`audit: ${s.slice(0, 6)}…`] : []),
    ]);
    expect(hits).toEqual([]);
  });
});
