import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../clock.js';
import { bearer, createUserWithToken, type TestUser } from '../../test-support/app.js';
import { createTestDatabase, describeEachDatabase } from '../../test-support/databases.js';
import {
  buildNotificationsApp,
  TEST_SECRET_KEY,
  type NotificationsTestApp,
} from './test-support/notifications-test-app.js';
import { startHttpReceiver, type HttpReceiver } from './test-support/receivers.js';

const SLACK_TOKEN_PATH = '/services/T0001/B0001/sl4ckT0kenNotForLogs';
const ROUTING_KEY = 'R0UT1NGKEYabcdef0123456789XYZ9';

describeEachDatabase('notification channels API', (dialect) => {
  let t: NotificationsTestApp;
  let disposeDb: () => Promise<void>;
  let database: Awaited<ReturnType<typeof createTestDatabase>>['handle'];
  let admin: TestUser;
  let member: TestUser;
  let stranger: TestUser;
  let receiver: HttpReceiver;
  const clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));

  beforeAll(async () => {
    const db = await createTestDatabase(dialect);
    database = db.handle;
    disposeDb = db.dispose;
    receiver = await startHttpReceiver();
    t = await buildNotificationsApp({ database, clock });
    admin = await createUserWithToken(t.services, { role: 'admin' });
    member = await createUserWithToken(t.services, { role: 'member', orgId: admin.orgId });
    stranger = await createUserWithToken(t.services, { role: 'owner' });
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
    await disposeDb();
  });

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token: string, payload?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: bearer(token),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  it('creates a webhook channel, shows its signing secret once and only a redacted config after', async () => {
    const res = await call('POST', '/api/v1/notification-channels', admin.token, {
      name: 'On-call hook',
      type: 'webhook',
      minSeverity: 'medium',
      filters: { environments: ['production'], labels: { team: 'core' } },
      config: { url: `${receiver.origin}/hooks/abc?token=q1w2e3r4t5` },
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const created = res.json<{ id: string; signingSecret: string; config: Record<string, unknown>; orgId: string }>();
    expect(created.signingSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(created.signingSecret.slice(6), 'base64')).toHaveLength(32);
    expect(created.config).toEqual({ origin: receiver.origin });
    expect(created.orgId).toBe(admin.orgId);

    const got = await call('GET', `/api/v1/notification-channels/${created.id}`, member.token);
    expect(got.statusCode).toBe(200);
    expect(got.body).not.toContain(created.signingSecret.slice(6, 30));
    expect(got.body).not.toContain('q1w2e3r4t5');
    expect(got.body).not.toContain('/hooks/abc');
    expect(got.json()).toMatchObject({
      name: 'On-call hook',
      type: 'webhook',
      minSeverity: 'medium',
      filters: { environments: ['production'], labels: { team: 'core' } },
      config: { origin: receiver.origin },
      status: { healthy: true, lastError: null, lastDeliveredAt: null, pending: 0, failed: 0, nextAttemptAt: null },
    });
    expect(got.json()).not.toHaveProperty('signingSecret');

    const list = await call('GET', '/api/v1/notification-channels', member.token);
    expect(list.statusCode).toBe(200);
    expect(list.json<{ items: { id: string }[] }>().items.map((c) => c.id)).toContain(created.id);
    expect(list.body).not.toContain(created.signingSecret.slice(6, 30));

    // At rest the URL, its token and the signing secret are sealed.
    const row = await database.db
      .selectFrom('notification_channels')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    const stored = JSON.stringify(row);
    expect(stored).not.toContain('q1w2e3r4t5');
    expect(stored).not.toContain('/hooks/abc');
    expect(stored).not.toContain(created.signingSecret.slice(6, 30));
    expect(row.config_ciphertext).toMatch(/^v1\./);
    const logs = t.logs.join('\n');
    expect(logs).not.toContain(created.signingSecret.slice(6, 30));
    expect(logs).not.toContain('q1w2e3r4t5');
    expect(logs).not.toContain('/hooks/abc');
  });

  it('keeps secrets of every type out of replies and logs; PATCH keeps the signing secret', async () => {
    const slack = await call('POST', '/api/v1/notification-channels', admin.token, {
      name: 'Slack',
      type: 'slack',
      minSeverity: 'high',
      config: { url: `https://hooks.slack.com${SLACK_TOKEN_PATH}` },
    });
    expect(slack.statusCode).toBe(201);
    expect(slack.json()).toMatchObject({ config: { origin: 'https://hooks.slack.com' } });
    expect(slack.json()).not.toHaveProperty('signingSecret');
    const pd = await call('POST', '/api/v1/notification-channels', admin.token, {
      name: 'PagerDuty',
      type: 'pagerduty',
      minSeverity: 'high',
      config: { routingKey: ROUTING_KEY },
    });
    expect(pd.statusCode).toBe(201);
    expect(pd.json()).toMatchObject({ config: { routingKey: '…XYZ9' } });

    const patched = await call(
      'PATCH',
      `/api/v1/notification-channels/${slack.json<{ id: string }>().id}`,
      admin.token,
      {
        name: 'Slack #ops',
        config: { url: `https://hooks.slack.com${SLACK_TOKEN_PATH}2` },
      },
    );
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ name: 'Slack #ops', config: { origin: 'https://hooks.slack.com' } });

    const everything = [
      slack.body,
      pd.body,
      patched.body,
      (await call('GET', '/api/v1/notification-channels', admin.token)).body,
      (await call('GET', '/api/v1/audit', admin.token)).body,
      t.logs.join('\n'),
    ].join('\n');
    expect(everything).not.toContain('sl4ckT0ken');
    expect(everything).not.toContain(ROUTING_KEY);
    expect(t.logs.join('\n')).not.toContain(TEST_SECRET_KEY);
  });

  it('lets a webhook keep its signing secret when its URL changes', async () => {
    const created = await call('POST', '/api/v1/notification-channels', admin.token, {
      name: 'Hook 2',
      type: 'webhook',
      minSeverity: 'info',
      config: { url: `${receiver.origin}/one` },
    });
    const { id, signingSecret } = created.json<{ id: string; signingSecret: string }>();
    const patched = await call('PATCH', `/api/v1/notification-channels/${id}`, admin.token, {
      config: { url: `${receiver.origin}/two` },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).not.toHaveProperty('signingSecret');
    receiver.respond = () => ({ status: 200 });
    const before = receiver.requests.length;
    const test = await call('POST', `/api/v1/notification-channels/${id}/test`, admin.token);
    expect(test.statusCode).toBe(200);
    expect(test.json()).toEqual({ delivered: true });
    const sent = receiver.requests.slice(before);
    expect(sent.map((r) => r.path)).toEqual(['/two']);
    const { verifyStandardWebhook } = await import('./test-support/receivers.js');
    expect(sent[0] !== undefined && verifyStandardWebhook(signingSecret, sent[0])).toBe(true);
  });

  it('answers 400 naming the field for bad URLs, types, unknown fields and mismatched config', async () => {
    const post = (body: unknown) => call('POST', '/api/v1/notification-channels', admin.token, body);
    const base = { name: 'x', minSeverity: 'low' };
    const cases: { body: unknown; field: string }[] = [
      { body: { ...base, type: 'webhook', config: { url: 'ftp://example.com/x' } }, field: 'body.config.url' },
      { body: { ...base, type: 'slack', config: { url: 'not a url' } }, field: 'body.config.url' },
      { body: { ...base, type: 'webhook', config: {} }, field: 'body.config.url' },
      { body: { ...base, type: 'sms', config: { url: 'https://x.test' } }, field: 'body.type' },
      { body: { ...base, type: 'slack', config: { routingKey: 'abc' } }, field: 'body.config.routingKey' },
      { body: { ...base, type: 'slack', config: { url: 'https://x.test' }, color: 'red' }, field: 'body.color' },
      { body: { ...base, type: 'slack', config: { url: 'https://x.test', token: 'x' } }, field: 'body.config.token' },
      { body: { ...base, type: 'pagerduty', config: { routingKey: 'has spaces!' } }, field: 'body.config.routingKey' },
      { body: { ...base, type: 'email', config: { to: ['ops@example.test'] } }, field: 'body.type' },
      {
        body: { ...base, minSeverity: 'urgent', type: 'slack', config: { url: 'https://x.test' } },
        field: 'body.minSeverity',
      },
    ];
    for (const c of cases) {
      const res = await post(c.body);
      expect(res.statusCode, JSON.stringify(c.body)).toBe(400);
      const fields = res.json<{ error: { details: { fields: { field: string }[] } } }>().error.details.fields;
      expect(
        fields.map((f) => f.field),
        JSON.stringify(c.body),
      ).toContain(c.field);
    }
    const email = await post({ ...base, type: 'email', config: { to: ['ops@example.test'] } });
    expect(email.json()).toMatchObject({ error: { code: 'smtp_not_configured' } });
    const names = await call('GET', '/api/v1/notification-channels', admin.token);
    expect(names.json<{ items: { name: string }[] }>().items.map((c) => c.name)).not.toContain('x');
  });

  it('lets members read, admins write, and hides channels from other organizations', async () => {
    const body = {
      name: 'Discord',
      type: 'discord',
      minSeverity: 'low',
      config: { url: 'https://discord.test/api/webhooks/1/abc' },
    };
    const denied = await call('POST', '/api/v1/notification-channels', member.token, body);
    expect(denied.statusCode).toBe(403);
    const created = await call('POST', '/api/v1/notification-channels', admin.token, body);
    const id = created.json<{ id: string }>().id;
    expect((await call('GET', `/api/v1/notification-channels/${id}`, member.token)).statusCode).toBe(200);
    expect((await call('PATCH', `/api/v1/notification-channels/${id}`, member.token, { name: 'y' })).statusCode).toBe(
      403,
    );
    expect((await call('DELETE', `/api/v1/notification-channels/${id}`, member.token)).statusCode).toBe(403);
    expect((await call('POST', `/api/v1/notification-channels/${id}/test`, member.token)).statusCode).toBe(403);
    expect((await call('GET', `/api/v1/notification-channels/${id}`, stranger.token)).statusCode).toBe(404);
    expect((await call('DELETE', `/api/v1/notification-channels/${id}`, stranger.token)).statusCode).toBe(404);
    const theirs = await call('GET', '/api/v1/notification-channels', stranger.token);
    expect(theirs.json()).toEqual({ items: [] });
    expect(
      (await call('POST', '/api/v1/notification-channels', stranger.token, { ...body, orgId: admin.orgId })).statusCode,
    ).toBe(404);
    expect((await call('GET', '/api/v1/notification-channels', '')).statusCode).toBe(401);
  });

  it('records create, update and delete in the audit log, without secrets', async () => {
    const created = await call('POST', '/api/v1/notification-channels', admin.token, {
      name: 'Audited',
      type: 'slack',
      minSeverity: 'low',
      config: { url: `https://hooks.slack.com${SLACK_TOKEN_PATH}` },
    });
    const id = created.json<{ id: string }>().id;
    clock.advance(1000);
    expect(
      (await call('PATCH', `/api/v1/notification-channels/${id}`, admin.token, { minSeverity: 'high' })).statusCode,
    ).toBe(200);
    clock.advance(1000);
    expect((await call('DELETE', `/api/v1/notification-channels/${id}`, admin.token)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/notification-channels/${id}`, admin.token)).statusCode).toBe(404);
    const audit = await call('GET', '/api/v1/audit?action=notification_channel.update', admin.token);
    expect(audit.json<{ items: { targetId: string }[] }>().items.some((e) => JSON.stringify(e).includes(id))).toBe(
      true,
    );
    const rows = await database.db
      .selectFrom('audit_log')
      .selectAll()
      .where('target_id', '=', id)
      .orderBy('id')
      .execute();
    expect(rows.map((r) => r.action)).toEqual([
      'notification_channel.create',
      'notification_channel.update',
      'notification_channel.delete',
    ]);
    expect(rows.every((r) => r.org_id === admin.orgId && r.actor_label?.includes(admin.email))).toBe(true);
    expect(JSON.stringify(rows)).not.toContain('sl4ckT0ken');
  });

  it('reports the receiver’s error from a test send and shows it on the channel', async () => {
    const created = await call('POST', '/api/v1/notification-channels', admin.token, {
      name: 'Broken hook',
      type: 'webhook',
      minSeverity: 'info',
      config: { url: `${receiver.origin}/broken` },
    });
    const id = created.json<{ id: string }>().id;
    receiver.respond = () => ({ status: 503, body: 'down for maintenance' });
    const test = await call('POST', `/api/v1/notification-channels/${id}/test`, admin.token);
    expect(test.statusCode).toBe(200);
    expect(test.json()).toEqual({
      delivered: false,
      error: `${receiver.origin} answered HTTP 503: down for maintenance`,
    });
    const got = await call('GET', `/api/v1/notification-channels/${id}`, admin.token);
    expect(got.json()).toMatchObject({
      status: { healthy: false, lastError: `${receiver.origin} answered HTTP 503: down for maintenance` },
    });
    receiver.respond = () => ({ status: 302, body: '' });
    const redirected = await call('POST', `/api/v1/notification-channels/${id}/test`, admin.token);
    expect(redirected.json()).toMatchObject({
      delivered: false,
      error: expect.stringContaining('redirects are not followed'),
    });
    receiver.respond = () => ({ status: 204 });
  });
});

describe('notification channels in the OpenAPI document', () => {
  it('lists the endpoints', async () => {
    const db = await createTestDatabase('sqlite');
    const t = await buildNotificationsApp({ database: db.handle, clock: new ManualClock() });
    try {
      const doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json<{
        paths: Record<string, unknown>;
      }>();
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/api/v1/notification-channels',
          '/api/v1/notification-channels/{id}',
          '/api/v1/notification-channels/{id}/test',
        ]),
      );
    } finally {
      await t.close();
      await db.dispose();
    }
  });
});
