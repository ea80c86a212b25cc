import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { CreatedNotificationChannel, NotificationChannel } from '@niro/protocol';
import type { RunningServer } from '@niro/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNiro, type NiroRun } from './test-support/run-niro.js';
import { startCliTestServer, type CliTestServerWithToken } from './test-support/test-server.js';

const ADMIN = { email: 'cli-channels@example.test', password: 'correct horse battery staple' };

type Received = { path: string; headers: IncomingHttpHeaders; body: string };

/** A webhook receiver on loopback: `/ok` accepts, `/down` answers 503 with a reason. */
async function startReceiver(): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (req.url === '/ok') {
        res.writeHead(204).end();
      } else {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('receiver in maintenance');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Standard Webhooks: base64 HMAC-SHA256 of `id.timestamp.body`, keyed with the secret's base64 part. */
function signatureOf(secret: string, r: Received): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = `${String(r.headers['webhook-id'])}.${String(r.headers['webhook-timestamp'])}.${r.body}`;
  return `v1,${createHmac('sha256', key).update(signed).digest('base64')}`;
}

/** `niro channels` against a real server and a real webhook receiver. */
describe('niro channels', () => {
  let testServer: CliTestServerWithToken;
  let dataDir: string;
  let server: RunningServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let token: string;

  const niro = (args: string[]): Promise<NiroRun> =>
    runNiro(args, {
      configDir: path.join(dataDir, 'config'),
      cwd: dataDir,
      env: { NIRO_URL: server.url, NIRO_TOKEN: token },
    });

  const listJson = async (): Promise<NotificationChannel[]> => {
    const run = await niro(['channels', 'ls', '-o', 'json']);
    expect(run.code, run.stderr).toBe(0);
    const items: NotificationChannel[] = JSON.parse(run.stdout);
    return items;
  };

  beforeAll(async () => {
    receiver = await startReceiver();
    testServer = await startCliTestServer({ prefix: 'niro-cli-channels-', admin: ADMIN, tokenName: 'ch' });
    ({ dataDir, server, token } = testServer);
  });

  afterAll(async () => {
    await testServer?.close();
    await receiver?.close();
  });

  it('creates a webhook channel, prints its signing secret once, tests it and deletes it', async () => {
    const empty = await niro(['channels', 'ls']);
    expect(empty, empty.stderr).toMatchObject({ code: 0, stdout: '' });
    expect(empty.stderr).toContain('No notification channels.');

    const created = await niro([
      'channels',
      'create',
      'on-call',
      '--type',
      'webhook',
      '--min-severity',
      'medium',
      '--env',
      'production',
      '--env',
      'staging',
      '--label',
      'team=core',
      '--hook-url',
      `${receiver.url}/ok`,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    expect(created.stderr).toContain('Created webhook channel on-call');
    expect(created.stderr).toContain('it will not be shown again');

    const listed = await niro(['channels', 'ls']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toContain(secret);
    const [header, row] = listed.stdout.trimEnd().split('\n');
    expect(header?.split(/\s{3,}/)).toEqual([
      'ID',
      'NAME',
      'TYPE',
      'MIN SEVERITY',
      'FILTERS',
      'TARGET',
      'LAST DELIVERED',
      'STATUS',
    ]);
    const [id = '', ...cells] = row?.split(/\s{3,}/) ?? [];
    expect(cells).toEqual([
      'on-call',
      'webhook',
      'medium',
      'env=production|staging team=core',
      receiver.url,
      'never',
      'healthy',
    ]);
    const asJson = await niro(['channels', 'ls', '-o', 'json']);
    expect(asJson.stdout).not.toContain(secret);
    expect(asJson.stdout).not.toContain('signingSecret');

    // The test notification is signed with the secret printed at creation.
    const tested = await niro(['channels', 'test', 'on-call']);
    expect(tested.code, tested.stderr).toBe(0);
    expect(tested.stdout).toBe(`Test notification delivered to on-call (${receiver.url}).\n`);
    const delivery = receiver.received.at(-1);
    expect(delivery?.path).toBe('/ok');
    expect(JSON.parse(delivery?.body ?? '{}')).toMatchObject({ type: 'test' });
    expect(delivery === undefined ? '' : signatureOf(secret, delivery)).toBe(delivery?.headers['webhook-signature']);
    const [afterTest] = await listJson();
    expect(afterTest?.status.lastDeliveredAt).not.toBeNull();

    const removed = await niro(['channels', 'rm', id]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stderr).toContain(`Deleted channel on-call (${id}).`);
    expect(await listJson()).toEqual([]);
    const again = await niro(['channels', 'rm', 'on-call']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no notification channel "on-call"');
  });

  it('exits 1 with the receiver’s error when a test delivery fails, and shows it in the status', async () => {
    const created = await niro([
      'channels',
      'create',
      'flaky',
      '--type',
      'slack',
      '--min-severity',
      'high',
      '--hook-url',
      `${receiver.url}/down`,
      '-o',
      'json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const channel: CreatedNotificationChannel = JSON.parse(created.stdout);
    expect(channel.signingSecret).toBeUndefined();

    const tested = await niro(['channels', 'test', channel.id]);
    expect(tested.code).toBe(1);
    expect(tested.stderr).toContain(`niro: the test notification to flaky was not delivered: ${receiver.url}`);
    expect(tested.stderr).toContain('503');
    expect(tested.stderr).toContain('receiver in maintenance');
    const json = await niro(['channels', 'test', 'flaky', '-o', 'json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ delivered: false });

    const listed = await niro(['channels', 'ls']);
    expect(listed.stdout).toMatch(/flaky .* failing: .*503/);

    const removed = await niro(['channels', 'rm', 'flaky']);
    expect(removed.code, removed.stderr).toBe(0);
  });

  it('refuses a config flag of another type, a missing one and an unknown environment (exit 2)', async () => {
    const wrong = await niro([
      'channels',
      'create',
      'pd',
      '--type',
      'pagerduty',
      '--min-severity',
      'high',
      '--hook-url',
      'https://x.test',
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--hook-url: a pagerduty channel takes --routing-key');
    const missing = await niro(['channels', 'create', 'mail', '--type', 'email', '--min-severity', 'low']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('needs --to');
    const badEnv = await niro([
      'channels',
      'create',
      'x',
      '--type',
      'webhook',
      '--min-severity',
      'low',
      '--env',
      'prod',
    ]);
    expect(badEnv.code).toBe(2);
    expect((await niro(['channels', 'create', 'x', '--type', 'webhook', '--hook-url', 'https://x.test'])).code).toBe(2);

    // `--url` names the Niro server: taken for the hook's URL it would receive the API token.
    const before = receiver.received.length;
    const serverFlag = await niro([
      'channels',
      'create',
      'x',
      '--type',
      'webhook',
      '--min-severity',
      'low',
      '--url',
      `${receiver.url}/ok`,
    ]);
    expect(serverFlag.code).toBe(2);
    expect(serverFlag.stderr).toContain('needs --hook-url (--url is the Niro server, not the receiver)');
    expect(receiver.received).toHaveLength(before);

    const pagerduty = await niro([
      'channels',
      'create',
      'pd',
      '--type',
      'pagerduty',
      '--min-severity',
      'high',
      '--routing-key',
      'R0123456789ABCDEF',
    ]);
    expect(pagerduty.code, pagerduty.stderr).toBe(0);
    const [pd] = await listJson();
    expect(pd?.config).toEqual({ routingKey: '…CDEF' });
    expect((await niro(['channels', 'rm', 'pd'])).code).toBe(0);
  });
});
