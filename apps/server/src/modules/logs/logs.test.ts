import type { AddressInfo } from 'node:net';
import { LOG_LIMITS, type Capabilities, type LogAckMessage, type LongPollReply } from '@niro/protocol';
import { DEFAULT_CAPABILITIES, buildFullHeartbeat, generateClusterInventory } from '@niro/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, createTestApp, createUserWithToken, type TestApp } from '../../test-support/app.js';
import { enrollTestCluster, type EnrolledTestCluster } from '../../test-support/clusters.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { sendHeartbeat } from '../../test-support/heartbeats.js';
import { FakeAgent } from './test-support/fake-agent.js';
import { SseClient } from './test-support/sse-client.js';

const INVENTORY = generateClusterInventory({ nodes: 1, pods: 2, seed: 'logs' });

type Json = Record<string, unknown>;
const data = (e: { data: string }): Json => {
  const v: unknown = JSON.parse(e.data);
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...v } : {};
};
const lines = (e: { data: string }): unknown => JSON.parse(e.data);

describeEachDatabase('pod log streams', (dialect) => {
  let t: TestApp;
  let base: string;
  const agents: FakeAgent[] = [];
  const readers: SseClient[] = [];
  let seq = 0;

  beforeAll(async () => {
    t = await createTestApp(dialect);
    // Short waits, so the "nobody reads this stream" and "command state" paths run quickly.
    t.services.logs.options.unknownStreamWaitMs = 300;
    t.services.logs.options.commandPollMs = 50;
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const r of readers) r.abort();
    for (const a of agents) a.close();
    await t.dispose();
  });

  async function loggingCluster(caps: Partial<Capabilities> = { logs: true }): Promise<EnrolledTestCluster> {
    const c = await enrollTestCluster(t);
    const capabilities = { ...DEFAULT_CAPABILITIES, ...caps };
    await sendHeartbeat(t, c.agentKey, buildFullHeartbeat(INVENTORY, { seq: ++seq, now: t.clock.now(), capabilities }));
    return c;
  }
  const connect = async (c: EnrolledTestCluster): Promise<FakeAgent> => {
    const a = await FakeAgent.connect(base, c.agentKey);
    agents.push(a);
    return a;
  };
  const logsUrl = (c: EnrolledTestCluster, query = '', pod = 'web-1'): string =>
    `${base}/api/v1/clusters/${c.clusterId}/pods/shop/${pod}/logs${query}`;
  const read = async (c: EnrolledTestCluster, query = '', token = c.owner.token): Promise<SseClient> => {
    const r = await SseClient.open(logsUrl(c, query), token);
    readers.push(r);
    return r;
  };
  /** A reader's stream as the agent sees it: the logs command taken and answered "started". */
  const started = async (agent: FakeAgent): Promise<{ streamId: string; payload: Json; commandId: string }> => {
    const cmd = await agent.command('logs');
    agent.result(cmd.id, { status: 'succeeded', result: {} });
    return { streamId: String(cmd.payload.streamId), payload: cmd.payload, commandId: cmd.id };
  };

  it('streams the lines in order as SSE events and ends a non-follow stream with eof', async () => {
    const c = await loggingCluster();
    const agent = await connect(c);
    const reader = await read(c, '?container=app&tailLines=20');
    expect(reader.status).toBe(200);
    expect(reader.res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(reader.res.headers['cache-control']).toBe('no-cache');
    expect(reader.res.headers['x-accel-buffering']).toBe('no');

    const { streamId, payload, commandId } = await started(agent);
    expect(payload).toEqual({
      streamId,
      namespace: 'shop',
      pod: 'web-1',
      container: 'app',
      tailLines: 20,
      follow: false,
    });
    expect(data(await reader.next('open'))).toEqual({ streamId, commandId });

    for (let s = 0; s < 5; s++) {
      agent.log(streamId, s, [`line ${2 * s}`, `line ${2 * s + 1}`]);
      expect(await agent.ack(streamId)).toEqual({ type: 'log-ack', streamId, seq: s });
    }
    agent.logEnd(streamId, 'eof');
    const events = await reader.rest();
    expect(events.map((e) => e.event)).toEqual(['lines', 'lines', 'lines', 'lines', 'lines', 'end']);
    expect(events.slice(0, 5).flatMap((e) => lines(e) as string[])).toEqual(
      Array.from({ length: 10 }, (_, i) => `line ${i}`),
    );
    expect(data(events[5] ?? { data: '{}' })).toEqual({ reason: 'eof' });

    // The stream is a command like any other: audited, with the default tail when none is asked.
    const other = await read(c, '?follow=1');
    const second = await started(agent);
    expect(second.payload).toMatchObject({ tailLines: LOG_LIMITS.defaultTailLines, follow: true });
    other.abort();
  });

  it('puts messages that arrive out of order back in order', async () => {
    const c = await loggingCluster();
    const agent = await connect(c);
    const reader = await read(c);
    const { streamId } = await started(agent);
    agent.log(streamId, 1, ['second']);
    agent.log(streamId, 0, ['first']);
    // One acknowledgement for both: seq 1 covers seq 0 too.
    await expect.poll(() => agent.frames.filter((f) => f.type === 'log-ack' && f.seq === 1).length).toBe(1);
    agent.logEnd(streamId, 'eof');
    const events = await reader.rest();
    expect(events.filter((e) => e.event === 'lines').map(lines)).toEqual([['first'], ['second']]);
  });

  it('stops the agent when the reader goes away: stop in the next ack, and a logs-stop command', async () => {
    const c = await loggingCluster();
    const agent = await connect(c);
    const reader = await read(c, '?follow=1');
    const { streamId } = await started(agent);
    agent.log(streamId, 0, ['before']);
    expect(await agent.ack(streamId)).toMatchObject({ seq: 0 });
    await reader.next('lines');

    reader.abort();
    await expect.poll(() => t.services.logs.stream(streamId)?.stats.finished).toBe(true);
    // A quiet follow stream hears it through the command queue...
    const stop = await agent.command('logs-stop');
    expect(stop.payload).toEqual({ streamId });
    // ...and a message still on its way is answered with stop.
    agent.log(streamId, 1, ['after']);
    expect(await agent.ack(streamId)).toEqual({ type: 'log-ack', streamId, seq: 0, stop: true });
  });

  it('gives a slow reader back-pressure: the agent stalls at its window, the server buffers about a window', async ({
    annotate,
  }) => {
    const c = await loggingCluster();
    const agent = await connect(c);
    const reader = await read(c, '?follow=1');
    const { streamId } = await started(agent);
    await reader.next('open');
    reader.pause();

    // An honest agent: at most `window` messages unacknowledged, 64 lines of 1,000 bytes each.
    const chunk = Array.from({ length: 64 }, () => 'x'.repeat(1000));
    const messageBytes = Buffer.byteLength(JSON.stringify(chunk));
    let sent = 0;
    let acked = 0;
    let maxServerUnacked = 0;
    let maxBuffered = 0;
    const stats = (): void => {
      const s = t.services.logs.stream(streamId)?.stats;
      if (s === undefined) return;
      maxServerUnacked = Math.max(maxServerUnacked, s.written - s.acked);
      maxBuffered = Math.max(maxBuffered, s.bufferedBytes);
    };
    const maxMessages = 2_000;
    for (;;) {
      while (sent - acked < LOG_LIMITS.window && sent < maxMessages) agent.log(streamId, sent++, chunk);
      const ack = await Promise.race([
        agent.ack(streamId),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 1_000)),
      ]);
      stats();
      if (ack === null) break; // stalled: the reader takes nothing and the window is full
      acked = Number(ack.seq) + 1;
    }
    stats();
    const stalledAt = sent;
    expect(sent - acked).toBeLessThanOrEqual(LOG_LIMITS.window);
    expect(stalledAt, 'the agent stalled before sending everything').toBeLessThan(maxMessages);
    expect(maxServerUnacked).toBeLessThanOrEqual(LOG_LIMITS.window);
    // Written but not taken by the socket: about one window of messages (plus one event being written).
    expect(maxBuffered).toBeLessThanOrEqual((LOG_LIMITS.window + 1) * (messageBytes + 64));
    await annotate(
      `slow reader: agent stalled after ${stalledAt} messages of ${messageBytes} bytes with ${sent - acked} unacknowledged; ` +
        `server held at most ${maxBuffered} bytes (${(maxBuffered / 1024).toFixed(0)} KiB) for the stream`,
    );

    // The reader catches up: every message arrives, in order, and the agent goes on.
    reader.resume();
    const frames: LogAckMessage[] = [];
    while (acked < sent) {
      const ack = await agent.ack(streamId);
      acked = Number(ack.seq) + 1;
      frames.push({ type: 'log-ack', streamId, seq: Number(ack.seq) });
    }
    agent.logEnd(streamId, 'eof');
    const events = (await reader.rest()).filter((e) => e.event === 'lines');
    expect(events).toHaveLength(sent);
    expect(events.every((e) => (lines(e) as string[]).length === 64)).toBe(true);
  });

  it('answers every message of a stream that ends while its reader is behind', async () => {
    const c = await loggingCluster();
    const agent = await connect(c);
    const reader = await read(c);
    const { streamId } = await started(agent);
    await reader.next('open');
    reader.pause();
    const chunk = Array.from({ length: 64 }, () => 'x'.repeat(1000));
    let sent = 0;
    let acked = 0;
    for (;;) {
      while (sent - acked < LOG_LIMITS.window) agent.log(streamId, sent++, chunk);
      const ack = await Promise.race([
        agent.ack(streamId),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 1_000)),
      ]);
      if (ack === null) break;
      acked = Number(ack.seq) + 1;
    }
    // The container's log ends while the reader's socket is still full.
    agent.logEnd(streamId, 'eof');
    const last = await agent.ack(streamId);
    expect(Number(last.seq), 'the last message is acknowledged, not left waiting').toBe(sent - 1);
    reader.resume();
    const events = await reader.rest();
    expect(events.filter((e) => e.event === 'lines')).toHaveLength(sent);
    expect(events.at(-1)?.event).toBe('end');
  });

  it('turns the agent’s failure into an error event with its message', async () => {
    const c = await loggingCluster();
    const agent = await connect(c);
    const reader = await read(c);
    const cmd = await agent.command('logs');
    agent.result(cmd.id, { status: 'failed', error: { code: 'pod_not_found', message: 'pods "web-1" not found' } });
    const events = await reader.rest();
    expect(events.map((e) => e.event)).toEqual(['open', 'error']);
    expect(data(events[1] ?? { data: '{}' })).toEqual({ code: 'pod_not_found', message: 'pods "web-1" not found' });
  });

  it('ends with an error event when no agent picks the command up before it expires', async () => {
    const c = await loggingCluster();
    const reader = await read(c);
    await reader.next('open');
    t.clock.advance(61_000);
    const error = await reader.next('error');
    expect(data(error)).toMatchObject({ code: 'command_expired' });
  });

  it('answers before streaming with JSON errors: 404, 403 for a viewer, 400 naming the parameter, 409', async () => {
    const c = await loggingCluster();
    const viewer = await createUserWithToken(t.services, { role: 'viewer', orgId: c.orgId });
    const get = (url: string, token = c.owner.token) => t.app.inject({ method: 'GET', url, headers: bearer(token) });
    const path = (cl: string, ns = 'shop', pod = 'web-1') => `/api/v1/clusters/${cl}/pods/${ns}/${pod}/logs`;

    expect((await get(path('no-such-cluster'))).statusCode).toBe(404);
    const forbidden = await get(path(c.clusterId), viewer.token);
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect((await t.app.inject({ method: 'GET', url: path(c.clusterId) })).statusCode).toBe(401);

    for (const [query, field] of [
      ['?tailLines=-1', 'querystring.tailLines'],
      [`?tailLines=${LOG_LIMITS.maxTailLines + 1}`, 'querystring.tailLines'],
      ['?tailLines=ten', 'querystring.tailLines'],
      ['?follow=yes', 'querystring.follow'],
      ['?container=Not_A_Name', 'querystring.container'],
    ] as const) {
      const res = await get(path(c.clusterId) + query);
      expect(res.statusCode, query).toBe(400);
      expect(res.json(), query).toMatchObject({ error: { code: 'invalid_request', details: { fields: [{ field }] } } });
    }
    const badNs = await get(path(c.clusterId, 'Kube_System'));
    expect(badNs.statusCode).toBe(400);
    expect(badNs.json()).toMatchObject({ error: { details: { fields: [{ field: 'params.namespace' }] } } });
    const badPod = await get(path(c.clusterId, 'shop', 'web..1'));
    expect(badPod.json()).toMatchObject({ error: { details: { fields: [{ field: 'params.pod' }] } } });

    const off = await loggingCluster({ logs: false });
    const refused = await get(path(off.clusterId), off.owner.token);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: { code: 'capability_disabled' } });
  });

  it('never shows a log message from another cluster to the reader', async () => {
    const c = await loggingCluster();
    const intruder = await loggingCluster();
    const agent = await connect(c);
    const other = await connect(intruder);
    const reader = await read(c);
    const { streamId } = await started(agent);

    other.log(streamId, 0, ['from the other cluster']);
    expect(await other.ack(streamId)).toMatchObject({ type: 'log-ack', streamId, stop: true });
    agent.log(streamId, 0, ['from the right cluster']);
    expect(await agent.ack(streamId)).toEqual({ type: 'log-ack', streamId, seq: 0 });
    agent.logEnd(streamId, 'eof');
    const events = await reader.rest();
    expect(events.filter((e) => e.event === 'lines').map(lines)).toEqual([['from the right cluster']]);
  });

  it('tells the agent to stop a stream nobody reads (after a restart, say)', async () => {
    const c = await loggingCluster();
    const agent = await connect(c);
    agent.log('stream-nobody-reads', 3, ['orphan']);
    expect(await agent.ack('stream-nobody-reads')).toEqual({
      type: 'log-ack',
      streamId: 'stream-nobody-reads',
      seq: 2,
      stop: true,
    });
  });

  it('takes the lines over long-poll POSTs, each answered with its ack, and the end with 204', async () => {
    const c = await loggingCluster();
    const agentHeaders = { ...bearer(c.agentKey), 'content-type': 'application/json' };
    const reader = await read(c, '?tailLines=2');
    const polled = await fetch(`${base}/api/agent/v1/commands?waitSeconds=5`, { headers: agentHeaders });
    const { commands } = (await polled.json()) as LongPollReply;
    const cmd = commands.find((x) => x.kind === 'logs');
    expect(cmd).toBeDefined();
    const streamId = String(cmd?.payload.streamId);
    const post = (body: unknown, id = streamId, headers: Record<string, string> = agentHeaders) =>
      fetch(`${base}/api/agent/v1/logs/${id}`, { method: 'POST', headers, body: JSON.stringify(body) });

    const first = await post({ type: 'log', streamId, seq: 0, lines: ['one', 'two'] });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ type: 'log-ack', streamId, seq: 0 });
    const end = await post({ type: 'log-end', streamId, reason: 'error', message: 'container restarted' });
    expect(end.status).toBe(204);
    const events = await reader.rest();
    expect(events.map((e) => e.event)).toEqual(['open', 'lines', 'end']);
    expect(lines(events[1] ?? { data: '[]' })).toEqual(['one', 'two']);
    expect(data(events[2] ?? { data: '{}' })).toEqual({ reason: 'error', message: 'container restarted' });

    // Bad bodies are refused naming the problem; the stream's end makes later lines a stop.
    const mismatch = await post({ type: 'log', streamId: 'another', seq: 1, lines: [] });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.json()).toMatchObject({ error: { details: { fields: [{ field: 'body.streamId' }] } } });
    const noSeq = await post({ type: 'log', streamId, lines: [] });
    expect(await noSeq.json()).toMatchObject({ error: { details: { fields: [{ field: 'body.seq' }] } } });
    const noReason = await post({ type: 'log-end', streamId });
    expect(await noReason.json()).toMatchObject({ error: { details: { fields: [{ field: 'body.reason' }] } } });
    const huge = await post({ type: 'log', streamId, seq: 1, lines: Array(200).fill('y'.repeat(16_000)) });
    expect(huge.status).toBe(413);
    expect((await post({ type: 'log', streamId, seq: 1, lines: [] }, streamId, {})).status).toBe(401);
    const late = await post({ type: 'log', streamId, seq: 1, lines: ['late'] });
    expect(await late.json()).toEqual({ type: 'log-ack', streamId, seq: 0, stop: true });
  });
});
