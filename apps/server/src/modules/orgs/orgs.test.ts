import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, createUserWithToken, type TestApp } from '../../test-support/app.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { SAME_ORIGIN, signIn } from '../auth/test-support/sessions.js';

type OrgDto = { id: string; parentId: string | null; name: string; role: string };

describeEachDatabase('organizations', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect);
  });
  afterAll(() => t.dispose());

  const api = (token: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload }) });

  it('lets any signed-in user create a root org and makes them its owner', async () => {
    const u = await createUserWithToken(t.services);
    const res = await api(u.token, 'POST', '/api/v1/orgs', { name: '  Shop  ' });
    expect(res.statusCode).toBe(201);
    const org = res.json<OrgDto>();
    expect(org).toMatchObject({ name: 'Shop', parentId: null, role: 'owner' });
    const members = await api(u.token, 'GET', `/api/v1/orgs/${org.id}/members`);
    expect(members.json()).toMatchObject({ items: [{ userId: u.userId, email: u.email, role: 'owner' }] });
    const list = await api(u.token, 'GET', '/api/v1/orgs');
    expect(list.json<{ items: OrgDto[] }>().items.map((o) => o.id)).toContain(org.id);
  });

  it('creates a child org only for admins of the parent', async () => {
    const owner = await createUserWithToken(t.services);
    const admin = await createUserWithToken(t.services, { orgId: owner.orgId, role: 'admin' });
    const member = await createUserWithToken(t.services, { orgId: owner.orgId, role: 'member' });
    const outsider = await createUserWithToken(t.services);
    const create = (token: string) => api(token, 'POST', '/api/v1/orgs', { name: 'Customer', parentId: owner.orgId });

    const byMember = await create(member.token);
    expect(byMember.statusCode).toBe(403);
    const byOutsider = await create(outsider.token);
    expect(byOutsider.statusCode).toBe(404);
    const byAdmin = await create(admin.token);
    expect(byAdmin.statusCode).toBe(201);
    expect(byAdmin.json()).toMatchObject({ parentId: owner.orgId, role: 'owner', name: 'Customer' });
    // The parent's owner sees the new child with the role carried down.
    const seen = await api(owner.token, 'GET', `/api/v1/orgs/${byAdmin.json<OrgDto>().id}`);
    expect(seen.json()).toMatchObject({ role: 'owner' });
    const unknownParent = await api(owner.token, 'POST', '/api/v1/orgs', { name: 'x', parentId: 'nope' });
    expect(unknownParent.statusCode).toBe(404);
  });

  describe('tree visibility', () => {
    it("shows a parent's member the whole subtree, keeps siblings apart, and lets a higher child role win", async () => {
      const root = await createUserWithToken(t.services, { orgName: 'MSP' });
      const a = await t.services.orgs.create('Customer A', root.orgId, null);
      const b = await t.services.orgs.create('Customer B', root.orgId, null);
      const a1 = await t.services.orgs.create('Site A1', a.id, null);
      const parentMember = await createUserWithToken(t.services, { orgId: root.orgId, role: 'viewer' });
      const aAdmin = await createUserWithToken(t.services, { orgId: a.id, role: 'admin' });
      await t.services.orgs.addMember(a.id, parentMember.userId, 'admin');

      const visible = await api(parentMember.token, 'GET', '/api/v1/orgs');
      expect(
        visible
          .json<{ items: OrgDto[] }>()
          .items.map((o) => [o.name, o.role])
          .sort(),
      ).toEqual([
        ['Customer A', 'admin'],
        ['Customer B', 'viewer'],
        ['MSP', 'viewer'],
        ['Site A1', 'admin'],
      ]);

      const aView = await api(aAdmin.token, 'GET', '/api/v1/orgs');
      expect(
        aView
          .json<{ items: OrgDto[] }>()
          .items.map((o) => o.name)
          .sort(),
      ).toEqual(['Customer A', 'Site A1']);
      for (const hidden of [b.id, root.orgId]) {
        const res = await api(aAdmin.token, 'GET', `/api/v1/orgs/${hidden}`);
        expect(res.statusCode).toBe(404);
        expect((await api(aAdmin.token, 'GET', `/api/v1/orgs/${hidden}/members`)).statusCode).toBe(404);
        expect((await api(aAdmin.token, 'PATCH', `/api/v1/orgs/${hidden}`, { name: 'mine' })).statusCode).toBe(404);
      }
      expect((await api(aAdmin.token, 'GET', `/api/v1/orgs/${a1.id}`)).json()).toMatchObject({ role: 'admin' });
      // The viewer of the parent cannot rename the sibling where they have no higher role.
      expect((await api(parentMember.token, 'PATCH', `/api/v1/orgs/${b.id}`, { name: 'x' })).statusCode).toBe(403);
    });
  });

  it('renames an org for admins only and validates the name', async () => {
    const owner = await createUserWithToken(t.services);
    const member = await createUserWithToken(t.services, { orgId: owner.orgId, role: 'member' });
    const renamed = await api(owner.token, 'PATCH', `/api/v1/orgs/${owner.orgId}`, { name: 'Renamed' });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).toMatchObject({ id: owner.orgId, name: 'Renamed', role: 'owner' });
    expect((await api(member.token, 'GET', `/api/v1/orgs/${owner.orgId}`)).json()).toMatchObject({ name: 'Renamed' });
    const denied = await api(member.token, 'PATCH', `/api/v1/orgs/${owner.orgId}`, { name: 'Mine' });
    expect(denied.statusCode).toBe(403);
    for (const payload of [
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(101) },
      {},
      { name: 'ok', parentId: 'x' },
    ]) {
      const res = await api(owner.token, 'PATCH', `/api/v1/orgs/${owner.orgId}`, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
    expect((await api(owner.token, 'GET', `/api/v1/orgs/${owner.orgId}`)).json()).toMatchObject({ name: 'Renamed' });
  });

  it('works for browser sessions too', async () => {
    const u = await createUserWithToken(t.services);
    const { cookie } = await signIn(t.app, u.email, u.password);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/orgs',
      headers: { ...cookie, ...SAME_ORIGIN },
      payload: { name: 'From the dashboard' },
    });
    expect(res.statusCode).toBe(201);
  });

  describe('members', () => {
    it('adds existing users by email, changes roles, and removes members (admin)', async () => {
      const owner = await createUserWithToken(t.services);
      const admin = await createUserWithToken(t.services, { orgId: owner.orgId, role: 'admin' });
      const other = await createUserWithToken(t.services);
      const url = `/api/v1/orgs/${owner.orgId}/members`;

      const added = await api(admin.token, 'POST', url, { email: other.email.toUpperCase(), role: 'member' });
      expect(added.statusCode).toBe(201);
      expect(added.json()).toMatchObject({ userId: other.userId, email: other.email, role: 'member' });
      expect((await api(other.token, 'GET', `/api/v1/orgs/${owner.orgId}`)).json()).toMatchObject({ role: 'member' });

      const changed = await api(admin.token, 'POST', url, { email: other.email, role: 'viewer' });
      expect(changed.statusCode).toBe(200);
      expect(changed.json()).toMatchObject({ role: 'viewer' });

      const list = await api(other.token, 'GET', url);
      expect(
        list
          .json<{ items: { userId: string; role: string }[] }>()
          .items.map((m) => [m.userId, m.role])
          .sort(),
      ).toEqual(
        [
          [owner.userId, 'owner'],
          [admin.userId, 'admin'],
          [other.userId, 'viewer'],
        ].sort(),
      );

      // A viewer may look but not manage.
      const byViewer = await api(other.token, 'POST', url, { email: admin.email, role: 'viewer' });
      expect(byViewer.statusCode).toBe(403);

      const removed = await api(admin.token, 'DELETE', `${url}/${other.userId}`);
      expect(removed.statusCode).toBe(204);
      expect((await api(other.token, 'GET', `/api/v1/orgs/${owner.orgId}`)).statusCode).toBe(404);
      expect((await api(admin.token, 'DELETE', `${url}/${other.userId}`)).statusCode).toBe(404);
    });

    it('needs an existing user', async () => {
      const owner = await createUserWithToken(t.services);
      const res = await api(owner.token, 'POST', `/api/v1/orgs/${owner.orgId}/members`, {
        email: 'ghost@example.test',
        role: 'member',
      });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: { code: 'user_not_found' } });
      const badRole = await api(owner.token, 'POST', `/api/v1/orgs/${owner.orgId}/members`, {
        email: owner.email,
        role: 'superuser',
      });
      expect(badRole.statusCode).toBe(400);
      expect(badRole.json()).toMatchObject({ error: { details: { fields: [{ field: 'body.role' }] } } });
    });

    it('leaves the owner role to owners and never removes the last owner', async () => {
      const owner = await createUserWithToken(t.services);
      const admin = await createUserWithToken(t.services, { orgId: owner.orgId, role: 'admin' });
      const other = await createUserWithToken(t.services);
      const url = `/api/v1/orgs/${owner.orgId}/members`;

      expect((await api(admin.token, 'POST', url, { email: other.email, role: 'owner' })).statusCode).toBe(403);
      expect((await api(admin.token, 'DELETE', `${url}/${owner.userId}`)).statusCode).toBe(403);
      expect((await api(admin.token, 'POST', url, { email: owner.email, role: 'member' })).statusCode).toBe(403);

      const lastOwner = await api(owner.token, 'DELETE', `${url}/${owner.userId}`);
      expect(lastOwner.statusCode).toBe(409);
      expect(lastOwner.json()).toMatchObject({ error: { code: 'last_owner' } });
      const demoteSelf = await api(owner.token, 'POST', url, { email: owner.email, role: 'admin' });
      expect(demoteSelf.json()).toMatchObject({ error: { code: 'last_owner' } });

      expect((await api(owner.token, 'POST', url, { email: other.email, role: 'owner' })).statusCode).toBe(201);
      expect((await api(other.token, 'DELETE', `${url}/${owner.userId}`)).statusCode).toBe(204);
      const members = await api(other.token, 'GET', url);
      expect(
        members
          .json<{ items: { userId: string; role: string }[] }>()
          .items.map((m) => m.role)
          .sort(),
      ).toEqual(['admin', 'owner']);
    });

    it('keeps one owner when two owners remove each other at the same time', async () => {
      const a = await createUserWithToken(t.services);
      const b = await createUserWithToken(t.services, { orgId: a.orgId, role: 'owner' });
      const url = `/api/v1/orgs/${a.orgId}/members`;
      const [ra, rb] = await Promise.all([
        api(a.token, 'DELETE', `${url}/${b.userId}`),
        api(b.token, 'DELETE', `${url}/${a.userId}`),
      ]);
      const codes = [ra?.statusCode, rb?.statusCode].sort();
      // The loser is either refused as last owner or, having lost its membership first, no longer sees the org.
      expect(codes[0]).toBe(204);
      expect([404, 409]).toContain(codes[1]);
      const owners = await t.services.database.db
        .selectFrom('memberships')
        .select('user_id')
        .where('org_id', '=', a.orgId)
        .where('role', '=', 'owner')
        .execute();
      expect(owners).toHaveLength(1);
    });
  });
});
