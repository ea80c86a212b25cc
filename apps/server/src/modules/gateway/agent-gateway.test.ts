import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from '@niro/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { bearer, createTestApp, type TestApp } from '../../test-support/app.js';
import { InProcessCommandNotifier } from '../commands/command-notifier.js';
import { enrollTestCluster, reenrollTestCluster, type EnrolledTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { AGENT_CONNECT_PATH, AgentGateway, type AgentGatewayOptions } from './agent-gateway.js';
import { KeyRevocations } from './key-revocations.js';

type Frame = Record<string, unknown>;

/** A `ws` client that queues what it receives, so a test can await the next frame. */
class TestAgent {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiter: (() => void) | null = null;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const v: unknown = JSON.parse(data.toString('utf8'));
      if (typeof v === 'object' && v !== null) this.frames.push({ ...v });
      this.waiter?.();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.waiter?.();
    });
  }

  static async connect(base: string, agentKey: string, options: WebSocket.ClientOptions = {}): Promise<TestAgent> {
    const ws = new WebSocket(`${base}${AGENT_CONNECT_PATH}`, { headers: bearer(agentKey), ...options });
    const agent = new TestAgent(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return agent;
  }

  send(frame: Frame | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  hello(): void {
    this.send({ type: 'hello', version: '0.1.0-test', protocol: 1 });
  }

  async next(): Promise<Frame> {
    for (;;) {
      const frame = this.frames.shift();
      if (frame !== undefined) return frame;
      if (this.closed !== null) throw new Error(`closed with ${this.closed.code} before the next frame`);
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  async closedWith(): Promise<{ code: number; reason: string }> {
    while (this.closed === null) await new Promise<void>((resolve) => (this.waiter = resolve));
    return this.closed;
  }
}

/** Upgrade refusals show up as the client's `unexpected-response`. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', () => undefined);
  });
}

describeEachDatabase('agent WebSocket gateway', (dialect) => {
  let t: TestApp;
  let base: string;
  const open: TestAgent[] = [];
  beforeAll(async () => {
    t = await createTestApp(dialect);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    base = `ws://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    for (const a of open) a.ws.terminate();
    await t.dispose();
  });

  const connect = async (c: EnrolledTestCluster, options?: WebSocket.ClientOptions): Promise<TestAgent> => {
    const a = await TestAgent.connect(base, c.agentKey, options);
    open.push(a);
    return a;
  };
  const createPing = async (c: EnrolledTestCluster): Promise<Command> => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clusters/${c.clusterId}/commands`,
      headers: bearer(c.owner.token),
      payload: { kind: 'ping' },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<Command>();
  };
  const getCommand = async (c: EnrolledTestCluster, id: string): Promise<Command> => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/commands/${id}`, headers: bearer(c.owner.token) });
    return res.json<Command>();
  };

  it('refuses the upgrade without a valid agent key, and a user token is no key', async () => {
    const c = await enrollTestCluster(t);
    const url = `${base}${AGENT_CONNECT_PATH}`;
    expect(await upgradeStatus(url, {})).toBe(401);
    expect(await upgradeStatus(url, bearer('niro_ak_not-a-key'))).toBe(401);
    expect(await upgradeStatus(url, bearer(c.owner.token))).toBe(401);
  });

  it('requires a hello of protocol 1 first', async () => {
    const c = await enrollTestCluster(t);
    const noHello = await connect(c);
    noHello.send({ type: 'ack', id: 'x' });
    expect(await noHello.next()).toMatchObject({ type: 'error', code: 'hello_required' });
    expect((await noHello.closedWith()).code).toBe(4001);

    const future = await connect(c);
    future.send({ type: 'hello', version: '9.0.0', protocol: 2 });
    expect(await future.next()).toMatchObject({ type: 'error', code: 'unsupported_protocol' });
    expect((await future.closedWith()).code).toBe(4000);
  });

  it('pushes queued and new commands in order, and records ack and result', async () => {
    const c = await enrollTestCluster(t);
    const queued = await createPing(c);
    const a = await connect(c);
    a.hello();
    expect(await a.next()).toMatchObject({ type: 'command', id: queued.id, kind: 'ping' });
    const created = await createPing(c);
    expect(await a.next()).toMatchObject({ type: 'command', id: created.id, kind: 'ping' });

    a.send({ type: 'ack', id: created.id });
    a.send({ type: 'result', id: created.id, status: 'succeeded', result: { pong: true } });
    expect(await a.next()).toEqual({ type: 'result-ack', id: created.id, state: 'succeeded', recorded: true });
    a.send({ type: 'result', id: created.id, status: 'failed' });
    expect(await a.next()).toEqual({ type: 'result-ack', id: created.id, state: 'succeeded', recorded: false });
    const done = await getCommand(c, created.id);
    expect(done.state).toBe('succeeded');
    expect(done.result).toEqual({ pong: true });
    expect((await getCommand(c, queued.id)).state).toBe('delivered');
  });

  it('answers a bad frame with an error frame and stays connected', async () => {
    const c = await enrollTestCluster(t);
    const a = await connect(c);
    a.hello();
    a.send('{not json');
    expect(await a.next()).toMatchObject({ type: 'error', code: 'invalid_json' });
    a.send({ type: 'result', id: 'x', status: 'maybe' });
    expect(await a.next()).toMatchObject({ type: 'error', code: 'invalid_frame' });
    a.send({ type: 'ack', id: 'no-such-command' });
    expect(await a.next()).toMatchObject({ type: 'error', code: 'not_found', id: 'no-such-command' });
    const cmd = await createPing(c);
    expect(await a.next()).toMatchObject({ type: 'command', id: cmd.id });
  });

  it('takes log frames: a malformed one gets an error frame, one of a stream nobody reads gets stop', async () => {
    const c = await enrollTestCluster(t);
    const a = await connect(c);
    a.hello();
    a.send({ type: 'log', streamId: 's-1', seq: -1, lines: [] });
    expect(await a.next()).toMatchObject({ type: 'error', code: 'invalid_frame' });
    a.send({ type: 'log-end', streamId: 's-1', reason: 'finished' });
    expect(await a.next()).toMatchObject({ type: 'error', code: 'invalid_frame' });
    // A log-end needs no answer; a log of a stream without a reader is told to stop.
    a.send({ type: 'log-end', streamId: 's-1', reason: 'eof' });
    t.services.logs.options.unknownStreamWaitMs = 100;
    a.send({ type: 'log', streamId: 's-1', seq: 0, lines: ['nobody reads this'] });
    expect(await a.next()).toEqual({ type: 'log-ack', streamId: 's-1', seq: -1, stop: true });
  });

  it('closes the connection with 1009 on an oversized frame', async () => {
    const c = await enrollTestCluster(t);
    const a = await connect(c);
    a.hello();
    a.send({ type: 'result', id: 'x', status: 'succeeded', result: { blob: 'x'.repeat(1_200_000) } });
    expect((await a.closedWith()).code).toBe(1009);
  });

  /** A gateway of its own on its own server, with short timers. */
  const startGateway = async (
    options: Partial<AgentGatewayOptions>,
    keyRevocations = t.services.keyRevocations,
  ): Promise<{ gateway: AgentGateway; base: string; server: http.Server }> => {
    const gateway = new AgentGateway(
      { commands: t.services.commands, keyRevocations, logs: t.services.logs, logger: t.services.logger },
      options,
    );
    const server = http.createServer();
    server.on('upgrade', (req, socket, head: Buffer) => void gateway.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { gateway, base: `ws://127.0.0.1:${port}`, server };
  };

  it('closes the connections of a replaced key with 4003 when the cluster is re-enrolled', async () => {
    const c = await enrollTestCluster(t);
    const saidHello = await connect(c);
    saidHello.hello();
    const cmd = await createPing(c);
    expect(await saidHello.next()).toMatchObject({ type: 'command', id: cmd.id });
    const noHelloYet = await connect(c);

    const newKey = await reenrollTestCluster(t, c);
    expect(await saidHello.closedWith()).toEqual({ code: 4003, reason: 'agent key revoked' });
    expect((await noHelloYet.closedWith()).code).toBe(4003);

    const fresh = await connect({ ...c, agentKey: newKey });
    fresh.hello();
    const next = await createPing(c);
    expect(await fresh.next()).toMatchObject({ type: 'command', id: next.id });
    expect(fresh.closed).toBeNull();
    const url = `${base}${AGENT_CONNECT_PATH}`;
    expect(await upgradeStatus(url, bearer(c.agentKey))).toBe(401);
  });

  it('closes the connection with 4003 when the cluster is deleted, and leaves other clusters connected', async () => {
    const c = await enrollTestCluster(t);
    const other = await enrollTestCluster(t);
    const a = await connect(c);
    a.hello();
    const bystander = await connect(other);
    bystander.hello();
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/clusters/${c.clusterId}`,
      headers: bearer(c.owner.token),
    });
    expect(res.statusCode, res.body).toBe(204);
    expect((await a.closedWith()).code).toBe(4003);
    const cmd = await createPing(other);
    expect(await bystander.next()).toMatchObject({ type: 'command', id: cmd.id });
    expect(bystander.closed).toBeNull();
  });

  it('finds a revoked key on its ping timer when no revocation signal arrives', async () => {
    const c = await enrollTestCluster(t);
    // Revocations that nobody announces on: only the re-check on the ping timer can notice.
    const deaf = new KeyRevocations(new InProcessCommandNotifier());
    const { gateway, base: ownBase, server } = await startGateway({ pingIntervalMs: 20 }, deaf);
    const a = await TestAgent.connect(ownBase, c.agentKey);
    try {
      a.hello();
      await reenrollTestCluster(t, c);
      expect((await a.closedWith()).code).toBe(4003);
      await expect.poll(() => gateway.connected).toBe(0);
    } finally {
      a.ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('drops a half-open connection that stops answering pings', async () => {
    const c = await enrollTestCluster(t);
    const { gateway, base: ownBase, server } = await startGateway({ pingIntervalMs: 20, deadAfterMs: 100 });
    const alive = await TestAgent.connect(ownBase, c.agentKey);
    const silent = await TestAgent.connect(ownBase, c.agentKey, { autoPong: false });
    try {
      alive.hello();
      silent.hello();
      await silent.closedWith();
      await expect.poll(() => gateway.connected).toBe(1);
      expect(alive.closed).toBeNull();
    } finally {
      alive.ws.terminate();
      silent.ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
