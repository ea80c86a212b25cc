import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Command, CommandMessage } from '@niro/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../../server/src/test-support/app.js';
import { enrollTestCluster, type EnrolledTestCluster } from '../../../server/src/test-support/clusters.js';
import { createAgentLogger } from '../logger.js';
import { WebSocketChannel, type WebSocketOutcome } from './websocket-channel.js';

const logger = createAgentLogger('silent');

/** The agent's WebSocket channel against a real Niro server listening on loopback. */
describe('WebSocket command channel', () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await createTestApp('sqlite');
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await t.dispose();
  });

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
  const stateOf = async (c: EnrolledTestCluster, id: string): Promise<string> => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/commands/${id}`, headers: bearer(c.owner.token) });
    return res.json<Command>().state;
  };
  const channel = (url: string, c: EnrolledTestCluster, execute: (m: CommandMessage) => Promise<void>) =>
    new WebSocketChannel({
      url,
      agentKey: c.agentKey,
      userAgent: 'niro-agent/test',
      version: '0.1.0-test',
      logger,
      random: () => 0,
      execute: async (m) => {
        await execute(m);
        return { status: 'succeeded', result: { pong: true } };
      },
    });

  it('executes queued and new commands in order and reports their results', async () => {
    const c = await enrollTestCluster(t);
    const first = await createPing(c);
    const executed: string[] = [];
    const ch = channel(`http://127.0.0.1:${port}`, c, async (m) => {
      executed.push(m.id);
    });
    const stop = new AbortController();
    let connected = false;
    const running = ch.run(stop.signal, () => (connected = true));
    await expect.poll(() => stateOf(c, first.id)).toBe('succeeded');
    expect(connected).toBe(true);
    const second = await createPing(c);
    const third = await createPing(c);
    await expect.poll(() => stateOf(c, third.id)).toBe('succeeded');
    expect(await stateOf(c, second.id)).toBe('succeeded');
    expect(executed).toEqual([first.id, second.id, third.id]);
    expect(ch.undelivered).toBe(0);
    stop.abort();
    expect(await running).toBe<WebSocketOutcome>('stopped');
  });

  it('sends a result again after the connection dropped during the command', async () => {
    const c = await enrollTestCluster(t);
    // A TCP relay to cut the connection while the command runs.
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((client) => {
      const upstream = net.connect(port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      sockets.add(client).add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayPort = (relay.address() as AddressInfo).port;
    let release: () => void = () => undefined;
    const started: string[] = [];
    const ch = channel(`http://127.0.0.1:${relayPort}`, c, async (m) => {
      started.push(m.id);
      await new Promise<void>((resolve) => (release = resolve));
    });
    const stop = new AbortController();
    const running = ch.run(stop.signal);
    try {
      const cmd = await createPing(c);
      await expect.poll(() => started).toEqual([cmd.id]);
      for (const s of sockets) s.destroy();
      release();
      await expect.poll(() => ch.undelivered).toBe(1);
      await expect.poll(() => stateOf(c, cmd.id)).toBe('succeeded');
      await expect.poll(() => ch.undelivered).toBe(0);
      expect(started).toEqual([cmd.id]);
    } finally {
      stop.abort();
      await running;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });

  it('gives way to long-poll when the upgrade is refused', async () => {
    const c = await enrollTestCluster(t);
    const plain = http.createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const { port: plainPort } = plain.address() as AddressInfo;
      const ch = channel(`http://127.0.0.1:${plainPort}`, c, async () => undefined);
      expect(await ch.run(new AbortController().signal)).toBe<WebSocketOutcome>('fallback');
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });
});
