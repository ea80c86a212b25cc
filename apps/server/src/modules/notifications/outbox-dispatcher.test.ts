import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../clock.js';
import type { DatabaseHandle } from '../../db/database.js';
import { bearer, createUserWithToken, type TestUser } from '../../test-support/app.js';
import { createTestDatabase, describeEachDatabase } from '../../test-support/databases.js';
import type { IncidentEvent } from './notification-events.js';
import {
  buildNotificationsApp,
  TEST_SECRET_KEY,
  type NotificationsTestApp,
} from './test-support/notifications-test-app.js';
import {
  startHttpReceiver,
  startSmtpReceiver,
  verifyStandardWebhook,
  type HttpReceiver,
  type SmtpReceiver,
} from './test-support/receivers.js';

const HOUR_MS = 3_600_000;

let seq = 0;
function incident(
  orgId: string | null,
  over: Partial<IncidentEvent['incident']> = {},
  kind: IncidentEvent['kind'] = 'incident.opened',
): IncidentEvent {
  seq += 1;
  return {
    kind,
    incident: {
      id: `inc-${seq}`,
      orgId,
      clusterId: 'cluster-1',
      clusterName: 'prod-eu-1',
      environment: 'production',
      clusterLabels: { team: 'core', region: 'eu' },
      type: 'pod_crash_looping',
      severity: 'high',
      title: 'Deployment shop/api is crash-looping',
      fingerprint: `cluster-1:pod_crash_looping:shop/api:${seq}`,
      openedAt: '2026-03-01T11:59:00.000Z',
      resolvedAt: kind === 'incident.resolved' ? '2026-03-01T12:30:00.000Z' : null,
      summary: '5 pods in CrashLoopBackOff',
      ...over,
    },
  };
}

const resolvedOf = (e: IncidentEvent): IncidentEvent => ({
  kind: 'incident.resolved',
  incident: { ...e.incident, resolvedAt: '2026-03-01T12:30:00.000Z' },
});

describeEachDatabase('notification outbox', (dialect) => {
  let database: DatabaseHandle;
  let disposeDb: () => Promise<void>;
  let t: NotificationsTestApp;
  let admin: TestUser;
  let receiver: HttpReceiver;
  let pagerduty: HttpReceiver;
  let smtp: SmtpReceiver;
  const clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
  const extra: NotificationsTestApp[] = [];

  beforeAll(async () => {
    const db = await createTestDatabase(dialect);
    database = db.handle;
    disposeDb = db.dispose;
    receiver = await startHttpReceiver();
    pagerduty = await startHttpReceiver();
    smtp = await startSmtpReceiver();
    t = await buildNotificationsApp({
      database,
      clock,
      pagerDutyEventsUrl: `${pagerduty.origin}/v2/enqueue`,
      env: { NIRO_SMTP_URL: smtp.url, NIRO_SMTP_FROM: 'Niro <niro@example.test>' },
    });
    admin = await createUserWithToken(t.services, { role: 'admin' });
  });

  afterEach(async () => {
    receiver.respond = () => ({ status: 204 });
    // Channels of one test must not receive the next test's events.
    await database.db.deleteFrom('notification_outbox').execute();
    await database.db.deleteFrom('notification_channels').execute();
    receiver.requests.length = 0;
    pagerduty.requests.length = 0;
    smtp.mails.length = 0;
  });

  afterAll(async () => {
    for (const e of extra) await e.close();
    await t.close();
    await Promise.all([receiver.close(), pagerduty.close(), smtp.close()]);
    await disposeDb();
  });

  async function channel(
    body: Record<string, unknown>,
    token = admin.token,
  ): Promise<{ id: string; signingSecret?: string }> {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/notification-channels',
      headers: bearer(token),
      payload: { name: 'channel', minSeverity: 'info', orgId: admin.orgId, ...body },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<{ id: string; signingSecret?: string }>();
  }

  const status = async (id: string) =>
    (
      await t.app.inject({ method: 'GET', url: `/api/v1/notification-channels/${id}`, headers: bearer(admin.token) })
    ).json<{
      status: {
        healthy: boolean;
        lastError: string | null;
        lastDeliveredAt: string | null;
        pending: number;
        failed: number;
        nextAttemptAt: string | null;
      };
    }>().status;

  const enqueue = (event: IncidentEvent) => t.services.notifications.enqueue(event, database.db);
  const tick = () => t.services.notificationDispatcher.tick();

  it('delivers a signed webhook once; a receiver that answered 2xx never hears of the event again', async () => {
    const hook = await channel({ type: 'webhook', config: { url: `${receiver.origin}/niro` } });
    const secret = hook.signingSecret ?? '';
    const event = incident(admin.orgId);
    expect(await enqueue(event)).toBe(1);
    // The same event again (a duplicate from the incident side) adds nothing.
    expect(await enqueue(event)).toBe(0);
    expect(await tick()).toEqual({ delivered: 1, retried: 0, failed: 0 });
    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0];
    if (req === undefined) throw new Error('no request');
    expect(verifyStandardWebhook(secret, req)).toBe(true);
    expect(verifyStandardWebhook(secret, { ...req, body: req.body.replace('high', 'low') })).toBe(false);
    expect(req.headers['webhook-id']).toBe(`evt_${event.incident.id}_opened`);
    expect(req.headers['webhook-timestamp']).toBe(String(Math.floor(clock.now() / 1000)));
    expect(req.json).toMatchObject({
      type: 'incident.opened',
      data: {
        id: event.incident.id,
        severity: 'high',
        clusterName: 'prod-eu-1',
        url: `https://niro.example.test/incidents/${event.incident.id}`,
      },
    });
    // Later scans, a re-enqueue and time passing send nothing more.
    clock.advance(2 * HOUR_MS);
    expect(await enqueue(event)).toBe(0);
    expect(await tick()).toEqual({ delivered: 0, retried: 0, failed: 0 });
    expect(receiver.requests).toHaveLength(1);
    const s = await status(hook.id);
    expect(s).toMatchObject({ healthy: true, pending: 0, failed: 0, lastError: null });
    expect(s.lastDeliveredAt).not.toBeNull();

    // Resolution is its own event with its own id.
    expect(await enqueue(resolvedOf(event))).toBe(1);
    await tick();
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([
      `evt_${event.incident.id}_opened`,
      `evt_${event.incident.id}_resolved`,
    ]);
    expect(receiver.requests.every((r) => verifyStandardWebhook(secret, r))).toBe(true);
  });

  it('enqueues in the caller’s transaction: a rollback leaves nothing to send', async () => {
    await channel({ type: 'webhook', config: { url: `${receiver.origin}/tx` } });
    await expect(
      database.db.transaction().execute(async (trx) => {
        expect(await t.services.notifications.enqueue(incident(admin.orgId), trx)).toBe(1);
        throw new Error('the incident change failed');
      }),
    ).rejects.toThrow('the incident change failed');
    await database.db.transaction().execute(async (trx) => {
      expect(await t.services.notifications.enqueue(incident(admin.orgId), trx)).toBe(1);
    });
    expect(await tick()).toEqual({ delivered: 1, retried: 0, failed: 0 });
    expect(receiver.requests).toHaveLength(1);
  });

  it('matches channels by org (and parent org), severity, environment and labels', async () => {
    const child = await t.services.orgs.create('child team', admin.orgId, null);
    const other = await createUserWithToken(t.services, { role: 'admin' });
    const all = await channel({ type: 'webhook', name: 'all', config: { url: `${receiver.origin}/all` } });
    const highOnly = await channel({
      type: 'webhook',
      minSeverity: 'high',
      config: { url: `${receiver.origin}/high` },
    });
    const prod = await channel({
      type: 'webhook',
      filters: { environments: ['production'], labels: { team: 'core' } },
      config: { url: `${receiver.origin}/prod-core` },
    });
    const childChannel = await channel({
      type: 'webhook',
      orgId: child.id,
      config: { url: `${receiver.origin}/child` },
    });
    const otherChannel = await channel(
      { type: 'webhook', orgId: other.orgId, config: { url: `${receiver.origin}/other` } },
      other.token,
    );
    const targets = async (event: IncidentEvent): Promise<string[]> => {
      await enqueue(event);
      const rows = await database.db
        .selectFrom('notification_outbox')
        .select('channel_id')
        .where('event_id', '=', `evt_${event.incident.id}_opened`)
        .execute();
      const names = new Map([
        [all.id, 'all'],
        [highOnly.id, 'high'],
        [prod.id, 'prod'],
        [childChannel.id, 'child'],
        [otherChannel.id, 'other'],
      ]);
      return rows.map((r) => names.get(r.channel_id) ?? r.channel_id).sort();
    };
    expect(await targets(incident(admin.orgId))).toEqual(['all', 'high', 'prod']);
    expect(await targets(incident(admin.orgId, { severity: 'medium' }))).toEqual(['all', 'prod']);
    expect(await targets(incident(admin.orgId, { environment: 'staging' }))).toEqual(['all', 'high']);
    expect(await targets(incident(admin.orgId, { clusterLabels: { team: 'web' } }))).toEqual(['all', 'high']);
    // A child org's incident reaches its own channels and its parent's.
    expect(await targets(incident(child.id, { severity: 'low' }))).toEqual(['all', 'child', 'prod']);
    // Fleet-wide (no org, no cluster): every org's channels, filters do not exclude it.
    expect(
      await targets(
        incident(null, {
          clusterId: null,
          clusterName: null,
          environment: null,
          clusterLabels: {},
          type: 'fleet_connectivity',
        }),
      ),
    ).toEqual(['all', 'child', 'high', 'other', 'prod']);
  });

  it('retries a failing receiver with backoff, shows it on the channel, then delivers once with the same webhook-id', async () => {
    const hook = await channel({ type: 'webhook', config: { url: `${receiver.origin}/flaky` } });
    const failures = 3;
    receiver.respond = (_req, i) => (i < failures ? { status: 500, body: `boom ${i}` } : { status: 200 });
    const event = incident(admin.orgId);
    await enqueue(event);
    const start = clock.now();
    const delays: number[] = [];
    expect(await tick()).toEqual({ delivered: 0, retried: 1, failed: 0 });
    for (let attempt = 1; attempt <= failures; attempt++) {
      const s = await status(hook.id);
      expect(s.healthy).toBe(false);
      expect(s.pending).toBe(1);
      expect(s.lastError).toBe(`${receiver.origin} answered HTTP 500: boom ${attempt - 1}`);
      expect(s.nextAttemptAt).not.toBeNull();
      const next = Date.parse(s.nextAttemptAt ?? '');
      delays.push(next - clock.now());
      // Not before it is due.
      clock.set(next - 1);
      expect(await tick()).toEqual({ delivered: 0, retried: 0, failed: 0 });
      clock.set(next);
      const r = await tick();
      expect(r).toEqual(
        attempt < failures ? { delivered: 0, retried: 1, failed: 0 } : { delivered: 1, retried: 0, failed: 0 },
      );
    }
    // 30 s doubling (jitter fixed at the middle by the test).
    expect(delays).toEqual([30_000, 60_000, 120_000]);
    expect(receiver.requests).toHaveLength(failures + 1);
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id']))).toEqual(
      new Set([`evt_${event.incident.id}_opened`]),
    );
    const deliveredAfterMs = clock.now() - start;
    const s = await status(hook.id);
    expect(s).toMatchObject({ healthy: true, pending: 0, failed: 0, nextAttemptAt: null });
    clock.advance(24 * HOUR_MS);
    await tick();
    expect(receiver.requests).toHaveLength(failures + 1);
    // eslint-disable-next-line no-console -- a figure printed rather than asserted
    console.log(`retries: delivered after ${failures} failures, ${deliveredAfterMs / 1000} s after enqueue (clock)`);
  });

  it('gives up 24 hours after enqueue and shows the event as failed on the channel', async () => {
    const hook = await channel({ type: 'webhook', config: { url: `${receiver.origin}/dead` } });
    receiver.respond = () => ({ status: 410, body: 'gone' });
    const enqueuedAt = clock.now();
    await enqueue(incident(admin.orgId));
    let attempts = 0;
    for (let i = 0; i < 100; i++) {
      const r = await tick();
      attempts += r.retried + r.failed;
      if (r.failed > 0) break;
      const next = (await status(hook.id)).nextAttemptAt;
      if (next === null) throw new Error('no next attempt');
      clock.set(Date.parse(next));
    }
    expect(clock.now() - enqueuedAt).toBe(24 * HOUR_MS);
    const s = await status(hook.id);
    expect(s).toMatchObject({ healthy: false, pending: 0, failed: 1, nextAttemptAt: null });
    expect(s.lastError).toMatch(/^gave up after \d+ attempts in 24 h: .* answered HTTP 410: gone$/);
    expect(receiver.requests).toHaveLength(attempts);
    clock.advance(HOUR_MS);
    expect(await tick()).toEqual({ delivered: 0, retried: 0, failed: 0 });
    // eslint-disable-next-line no-console -- a figure printed rather than asserted
    console.log(`give-up: ${attempts} attempts over 24 h (30 s doubling, capped at 1 h)`);
  });

  it('delivers after a restart between enqueue and send, and after a crash mid-send once the lease runs out', async () => {
    await channel({ type: 'webhook', config: { url: `${receiver.origin}/restart` } });
    const first = incident(admin.orgId);
    await enqueue(first);
    // The process dies here: nothing sent. A new process on the same database:
    await t.services.notificationDispatcher.stop();
    const restarted = await buildNotificationsApp({ database, clock });
    extra.push(restarted);
    expect(await restarted.services.notificationDispatcher.tick()).toEqual({ delivered: 1, retried: 0, failed: 0 });

    // A dispatcher that claimed a row and died before answering: its lease blocks others for 60 s.
    const second = incident(admin.orgId);
    await enqueue(second);
    const row = await database.db
      .selectFrom('notification_outbox')
      .select('id')
      .where('event_id', '=', `evt_${second.incident.id}_opened`)
      .executeTakeFirstOrThrow();
    const { NotificationsRepository } = await import('./notifications.repository.js');
    expect(await new NotificationsRepository(database.db, clock).claim(row.id, clock.now(), 60_000)).toBeDefined();
    const again = await buildNotificationsApp({ database, clock });
    extra.push(again);
    expect(await again.services.notificationDispatcher.tick()).toEqual({ delivered: 0, retried: 0, failed: 0 });
    clock.advance(60_001);
    expect(await again.services.notificationDispatcher.tick()).toEqual({ delivered: 1, retried: 0, failed: 0 });
    expect(await restarted.services.notificationDispatcher.tick()).toEqual({ delivered: 0, retried: 0, failed: 0 });
    expect(receiver.requests.map((r) => r.headers['webhook-id'])).toEqual([
      `evt_${first.incident.id}_opened`,
      `evt_${second.incident.id}_opened`,
    ]);
  });

  it('sends each event once when several dispatchers (replicas) scan at the same time', async () => {
    await channel({ type: 'webhook', config: { url: `${receiver.origin}/race` } });
    const replicas = [
      t,
      await buildNotificationsApp({ database, clock }),
      await buildNotificationsApp({ database, clock }),
    ];
    extra.push(...replicas.slice(1));
    const events = Array.from({ length: 20 }, () => incident(admin.orgId));
    for (const e of events) await enqueue(e);
    const results = await Promise.all(replicas.map((r) => r.services.notificationDispatcher.tick()));
    expect(results.reduce((n, r) => n + r.delivered, 0)).toBe(20);
    expect(receiver.requests).toHaveLength(20);
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size).toBe(20);
    // eslint-disable-next-line no-console -- a figure printed rather than asserted
    console.log(`race: deliveries per replica ${results.map((r) => r.delivered).join('/')}`);
  });

  it('wakes a started dispatcher on enqueue', async () => {
    await channel({ type: 'webhook', config: { url: `${receiver.origin}/wake` } });
    const live = await buildNotificationsApp({ database, clock, dispatcher: { pollIntervalMs: 60_000 } });
    extra.push(live);
    live.services.notificationDispatcher.start();
    await live.services.notifications.enqueue(incident(admin.orgId), database.db);
    await vi.waitFor(() => expect(receiver.requests).toHaveLength(1), { timeout: 5_000, interval: 20 });
    await live.services.notificationDispatcher.stop();
  });

  it('keeps delivering across a key rotation and re-seals a channel under the new key when it changes', async () => {
    const hook = await channel({ type: 'webhook', config: { url: `${receiver.origin}/rotate` } });
    const sealedBy = async (): Promise<string> => {
      const row = await database.db
        .selectFrom('notification_channels')
        .select('config_ciphertext')
        .where('id', '=', hook.id)
        .executeTakeFirstOrThrow();
      return row.config_ciphertext.split('.')[1] ?? '';
    };
    const oldKeyId = await sealedBy();
    const newKey = randomBytes(32).toString('base64');
    const rotated = await buildNotificationsApp({
      database,
      clock,
      env: { NIRO_SECRET_KEY: `${newKey},${TEST_SECRET_KEY}` },
    });
    extra.push(rotated);
    await rotated.services.notifications.enqueue(incident(admin.orgId), database.db);
    expect(await rotated.services.notificationDispatcher.tick()).toEqual({ delivered: 1, retried: 0, failed: 0 });
    const patched = await rotated.app.inject({
      method: 'PATCH',
      url: `/api/v1/notification-channels/${hook.id}`,
      headers: bearer(admin.token),
      payload: { name: 'rotated' },
    });
    expect(patched.statusCode).toBe(200);
    expect(await sealedBy()).not.toBe(oldKeyId);
    // The old key can go now.
    const onlyNew = await buildNotificationsApp({ database, clock, env: { NIRO_SECRET_KEY: newKey } });
    extra.push(onlyNew);
    await onlyNew.services.notifications.enqueue(incident(admin.orgId), database.db);
    expect(await onlyNew.services.notificationDispatcher.tick()).toEqual({ delivered: 1, retried: 0, failed: 0 });
    expect(receiver.requests.every((r) => verifyStandardWebhook(hook.signingSecret ?? '', r))).toBe(true);
    // A server that lost the key cannot open it, and says so on the channel.
    const lost = await buildNotificationsApp({
      database,
      clock,
      env: { NIRO_SECRET_KEY: randomBytes(32).toString('base64') },
    });
    extra.push(lost);
    await lost.services.notifications.enqueue(incident(admin.orgId), database.db);
    expect(await lost.services.notificationDispatcher.tick()).toEqual({ delivered: 0, retried: 1, failed: 0 });
    expect((await status(hook.id)).lastError).toMatch(
      /cannot be decrypted \(sealed with key \S+, which is not in the key ring/,
    );
  });

  it('formats Slack blocks and Discord embeds with severity, cluster, title and a link', async () => {
    await channel({ type: 'slack', config: { url: `${receiver.origin}/services/T1/B1/xyz` } });
    await channel({ type: 'discord', config: { url: `${receiver.origin}/api/webhooks/1/abc` } });
    const event = incident(admin.orgId, { title: 'Node <n1> & friends not ready', type: 'node_not_ready' });
    await enqueue(event);
    expect(await tick()).toMatchObject({ delivered: 2 });
    const link = `https://niro.example.test/incidents/${event.incident.id}`;
    const slack = receiver.requests.find((r) => r.path.startsWith('/services/'));
    const discord = receiver.requests.find((r) => r.path.startsWith('/api/webhooks/'));
    expect(slack?.json).toMatchObject({ text: expect.stringContaining(`<${link}|View incident>`) });
    const slackText = JSON.stringify(slack?.json);
    expect(slackText).toContain('Node &lt;n1&gt; &amp; friends not ready');
    expect(slackText).toContain('*Severity:* high');
    expect(slackText).toContain('*Cluster:* prod-eu-1');
    expect(slackText).toContain(`<${link}|View incident in Niro>`);
    expect(slack?.json).toMatchObject({
      blocks: expect.arrayContaining([expect.objectContaining({ type: 'section' })]),
    });
    expect(discord?.json).toMatchObject({
      allowed_mentions: { parse: [] },
      embeds: [
        {
          title: 'Incident opened: Node <n1> & friends not ready',
          url: link,
          color: 0xed4245,
          fields: expect.arrayContaining([
            { name: 'Severity', value: 'high', inline: true },
            { name: 'Cluster', value: 'prod-eu-1', inline: true },
          ]),
        },
      ],
    });
  });

  it('triggers and resolves PagerDuty with the incident fingerprint as dedup_key', async () => {
    const routingKey = 'R0UT1NGKEY0123456789abcdefABCDEF';
    await channel({ type: 'pagerduty', config: { routingKey } });
    const event = incident(admin.orgId, { severity: 'medium', fingerprint: 'cluster-1:image_pull_error:shop/web' });
    await enqueue(event);
    await tick();
    await enqueue(resolvedOf(event));
    await tick();
    expect(pagerduty.requests.map((r) => r.path)).toEqual(['/v2/enqueue', '/v2/enqueue']);
    expect(pagerduty.requests[0]?.json).toMatchObject({
      routing_key: routingKey,
      event_action: 'trigger',
      dedup_key: 'cluster-1:image_pull_error:shop/web',
      payload: {
        summary: 'Incident opened: Deployment shop/api is crash-looping',
        source: 'prod-eu-1',
        severity: 'error',
        component: 'pod_crash_looping',
        group: 'production',
      },
      links: [{ href: `https://niro.example.test/incidents/${event.incident.id}`, text: 'View incident in Niro' }],
    });
    expect(pagerduty.requests[1]?.json).toEqual({
      routing_key: routingKey,
      event_action: 'resolve',
      dedup_key: 'cluster-1:image_pull_error:shop/web',
    });
    expect(t.logs.join('\n')).not.toContain(routingKey);
  });

  it('sends email over SMTP with a link and a Message-ID derived from the event id', async () => {
    await channel({ type: 'email', config: { to: ['Ops@Example.test', 'oncall@example.test'] } });
    const event = incident(admin.orgId);
    await enqueue(event);
    expect(await tick()).toEqual({ delivered: 1, retried: 0, failed: 0 });
    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0];
    expect(mail?.from).toBe('niro@example.test');
    expect(mail?.to.sort()).toEqual(['oncall@example.test', 'ops@example.test']);
    expect(mail?.raw).toContain('Subject: [Niro high] Incident opened: Deployment shop/api is crash-looping');
    expect(mail?.raw).toContain(`Message-ID: <evt_${event.incident.id}_opened@niro>`);
    expect(mail?.raw).toContain(`https://niro.example.test/incidents/${event.incident.id}`);
    expect(mail?.raw).toContain('Cluster:     prod-eu-1');
  });

  it('records an unreachable receiver as a retry with a readable error, never its URL path', async () => {
    const closed = await startHttpReceiver();
    const url = `${closed.origin}/services/T9/B9/s3cr3tPath`;
    await closed.close();
    const hook = await channel({ type: 'slack', config: { url } });
    await enqueue(incident(admin.orgId));
    expect(await tick()).toEqual({ delivered: 0, retried: 1, failed: 0 });
    const s = await status(hook.id);
    expect(s.lastError).toBe(`${closed.origin}: connection refused`);
    expect(t.logs.join('\n')).not.toContain('s3cr3tPath');
  });
});

describe('notification outbox on a server with jitter', () => {
  it('spreads retries within ±25 % of the doubling schedule', async () => {
    const { retryDelayMs, DEFAULT_DISPATCHER_OPTIONS } = await import('./outbox-dispatcher.job.js');
    const at = (failures: number, r: number) =>
      retryDelayMs(failures, { ...DEFAULT_DISPATCHER_OPTIONS, random: () => r });
    expect([at(1, 0), at(1, 0.5), at(1, 0.999)]).toEqual([22_500, 30_000, 37_485]);
    expect(at(2, 0.5)).toBe(60_000);
    expect(at(8, 0.5)).toBe(HOUR_MS);
    expect(at(30, 0.5)).toBe(HOUR_MS);
  });
});
