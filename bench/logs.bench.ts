/**
 * Pod log streaming benchmark (issue 4; RELIABILITY-TESTS CMD-7).
 *
 * Starts a real server (SQLite) and enrolls a few clusters through the API, each reporting the
 * logs capability. Simulated agents (bench/logs-agent.ts) speak the WebSocket protocol: they
 * answer the `logs` command and send `log` frames of one ~64 KB chunk of lines (LOG_LIMITS.chunkBytes)
 * with at most LOG_LIMITS.window unacknowledged. Readers open `GET /api/v1/clusters/{id}/pods/…/logs`
 * over loopback HTTP and parse the server-sent events. Everything shares one process.
 *
 * 1. Throughput of one follow stream with a fast reader, against the same frames through a bare
 *    `ws` connection into a bare chunked HTTP response (bench/logs-baseline.ts) in the same run.
 * 2. CMD-7: ten fast streams, paced and then flat out, without and then with one slow reader
 *    (~1 KB/s) on a stream its agent feeds as fast as the window lets it; process RSS and heap
 *    (after a forced GC), the server's buffered bytes for the slow stream, the bytes its agent got
 *    to send, and the fast streams' throughput and per-message latency (agent send → event parsed).
 * 3. Time to first line over sequential stream opens (request → first `lines` event), the agent
 *    answering at once; baseline: `GET /api/v1/clusters/{id}` over the same kind of connection.
 *
 * Appends a dated section to bench/RESULTS.md. Run: `npm run bench:logs`.
 * `NIRO_BENCH_QUICK=1` shortens every phase and records nothing.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LOG_LIMITS, type CreateClusterResponse, type EnrollRequest, type EnrollResponse } from '@niro/protocol';
import { createLogger, startServer, type RunningServer } from '@niro/server';
import { buildFullHeartbeat, generateClusterInventory } from '@niro/testkit';
import { percentiles, type Percentiles } from './commands-fleet.js';
import { buildChunk, LogAgent, type LogPump, type LogChunk, type PumpMode } from './logs-agent.js';
import { openBareStream } from './logs-baseline.js';
import { FastReader, SlowReader } from './logs-readers.js';
import { formatLoad, machineLine } from './machine.js';

const QUICK = process.env.NIRO_BENCH_QUICK === '1';
const SCALE = QUICK ? 0.25 : 1;
const THROUGHPUT_SECONDS = 8 * SCALE;
const FAST_STREAMS = 10;
const PHASE_SECONDS = 8 * SCALE;
const SETTLE_MS = 1000 * SCALE;
const SLOW_ALONE_SECONDS = 8 * SCALE;
const SLOW_SECONDS = 30 * SCALE;
/** Bytes the slow reader takes per 125 ms tick: 1 KiB/s. */
const SLOW_BYTES_PER_TICK = 128;
const OPENS = QUICK ? 40 : 200;
/** Paced fast streams: this much each at most (10 × 512 KiB/s = 5 MiB/s in all). */
const PACED_MAX_BYTES_PER_SECOND = 512 * 1024;
const SLOW_BAR_BYTES = 20 * 2 ** 20;
const MiB = 2 ** 20;

const here = path.dirname(fileURLToPath(import.meta.url));
const startLoad = os.loadavg();

type ClusterAgent = { clusterId: string; agentKey: string };
type Rate = { messages: number; seconds: number; mibPerSecond: number; linesPerSecond: number };
type Throughput = { niro: Rate & { latency: Percentiles }; bare: Rate & { latency: Percentiles } };
type FastPhase = {
  label: string;
  mode: PumpMode;
  aggregate: Rate;
  slowestStream: Rate;
  stalledStreams: number;
  latency: Percentiles;
};
type Memory = { rss: number; heapUsed: number; arrayBuffers: number };
type SlowFigures = {
  atOpen: Memory;
  afterAlone: Memory;
  atEnd: Memory;
  afterClose: Memory;
  maxRssWhileOpen: number;
  maxRssAlone: number;
  maxServerBuffered: number;
  maxHeld: number;
  sentAfter1s: number;
  sentAfterAlone: number;
  sentAtEnd: number;
  messagesSent: number;
  messagesAcked: number;
  readerBytes: number;
  seconds: number;
  stopMs: number | null;
  finishedOnServer: boolean;
};
type Opens = {
  firstLines: Percentiles;
  headers: Percentiles;
  ended: Percentiles;
  baselineGet: Percentiles;
  /** Streams whose every message the agent saw acknowledged by the end of the phase. */
  fullyAcked: number;
};
type Figures = {
  chunk: LogChunk;
  throughput: Throughput;
  pacedBytesPerSecond: number;
  fast: FastPhase[];
  slow: SlowFigures;
  opens: Opens;
};

const gc = loadGc();

async function main(): Promise<void> {
  const started = performance.now();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-bench-logs-'));
  const server = await startServer({
    config: { NIRO_DATA_DIR: dataDir, NIRO_PORT: '0', NIRO_HOST: '127.0.0.1', NIRO_LOG_LEVEL: 'silent' },
    logger: createLogger('silent'),
  });
  const agents: LogAgent[] = [];
  const chunk = buildChunk();
  let figures: Figures;
  try {
    const token = await adminToken(server);
    const clusters = await createClusters(server, token, FAST_STREAMS + 3);
    const take = (): ClusterAgent => {
      const c = clusters.shift();
      if (c === undefined) throw new Error('out of clusters');
      return c;
    };
    const connect = async (c: ClusterAgent, mode: PumpMode, limit?: number): Promise<LogAgent> => {
      const agent = await LogAgent.connect(server.url, c.agentKey, chunk, () =>
        limit === undefined ? { mode } : { mode, limit },
      );
      agents.push(agent);
      return agent;
    };
    const logsUrl = (c: ClusterAgent, query: string): string =>
      `${server.url}/api/v1/clusters/${c.clusterId}/pods/shop/web-1/logs${query}`;
    log(
      `${clusters.length} clusters enrolled; a log message is ${chunk.lines} lines, ` +
        `${(chunk.lineBytes / 1024).toFixed(1)} KiB, window ${LOG_LIMITS.window}`,
    );

    // 1. Throughput of one stream, then the bare baseline with the same number of messages.
    const one = take();
    const oneAgent = await connect(one, { kind: 'max' });
    const niro = await niroThroughput(oneAgent, chunk, logsUrl(one, '?follow=1&tailLines=0'), token);
    log(`niro stream: ${fmtRate(niro)}; latency ${fmt(niro.latency)}`);
    const bare = await bareThroughput(chunk, niro.messages);
    log(`bare ws → chunked HTTP: ${fmtRate(bare)}; latency ${fmt(bare.latency)}`);
    const throughput: Throughput = { niro, bare };

    // 2. CMD-7: ten fast streams without and with a slow reader.
    const pacedBytesPerSecond = Math.min(
      PACED_MAX_BYTES_PER_SECOND,
      Math.floor((niro.mibPerSecond * MiB * 0.4) / FAST_STREAMS),
    );
    const fastStreams: { reader: FastReader; pump: LogPump }[] = [];
    for (let i = 0; i < FAST_STREAMS; i++) {
      const c = take();
      const agent = await connect(c, { kind: 'idle' });
      const next = agent.nextStream();
      const reader = await FastReader.open(logsUrl(c, '?follow=1&tailLines=0'), token);
      fastStreams.push({ reader, pump: await next });
    }
    log(`${FAST_STREAMS} fast streams open; paced at ${(pacedBytesPerSecond / 1024).toFixed(0)} KiB/s each`);
    const paced: PumpMode = { kind: 'paced', bytesPerSecond: pacedBytesPerSecond };
    const fast: FastPhase[] = [];
    const bareStreams = await Promise.all(Array.from({ length: FAST_STREAMS }, () => openBareStream(chunk)));
    fast.push(await fastPhase('baseline: bare relays, paced', paced, bareStreams, chunk));
    fast.push(await fastPhase('baseline: bare relays, flat out', { kind: 'max' }, bareStreams, chunk));
    await Promise.all(bareStreams.map((b) => b.close()));
    fast.push(await fastPhase('paced, no slow reader', paced, fastStreams, chunk));
    fast.push(await fastPhase('flat out, no slow reader', { kind: 'max' }, fastStreams, chunk));

    const slowCluster = take();
    const slowAgent = await connect(slowCluster, { kind: 'max' });
    const slow = await slowStream(server, slowAgent, logsUrl(slowCluster, '?follow=1&tailLines=0'), token, async () => {
      fast.push(await fastPhase('paced, slow reader present', paced, fastStreams, chunk));
      fast.push(await fastPhase('flat out, slow reader present', { kind: 'max' }, fastStreams, chunk));
    });
    for (const s of fastStreams) s.reader.abort();

    // 3. Time to first line.
    const ttfl = take();
    const ttflAgent = await connect(ttfl, { kind: 'max' }, 2);
    const opens = await streamOpens(
      ttflAgent,
      logsUrl(ttfl, '?tailLines=500'),
      `${server.url}/api/v1/clusters/${ttfl.clusterId}`,
      token,
    );

    figures = { chunk, throughput, pacedBytesPerSecond, fast, slow, opens };
  } finally {
    for (const a of agents) a.close();
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const section = report(figures, (performance.now() - started) / 1000);
  log(`\n${section}`);
  if (QUICK) return;
  fs.appendFileSync(path.join(here, 'RESULTS.md'), section);
  log('appended to bench/RESULTS.md');
}

// ---------------------------------------------------------------------------------------------
// 1. Throughput

async function niroThroughput(
  agent: LogAgent,
  chunk: LogChunk,
  url: string,
  token: string,
): Promise<Rate & { latency: Percentiles }> {
  const next = agent.nextStream();
  const reader = await FastReader.open(url, token);
  const pump = await next;
  await reader.untilMessages(20);
  await sleep(SETTLE_MS);
  reader.takeLatencies();
  const m0 = reader.messages;
  const t0 = performance.now();
  await sleep(THROUGHPUT_SECONDS * 1000);
  const messages = reader.messages - m0;
  const seconds = (performance.now() - t0) / 1000;
  const latency = percentiles(reader.takeLatencies());
  reader.abort();
  await until(() => pump.stopped, 5000);
  return { ...rate(messages, seconds, chunk), latency };
}

/** `messages` frames (after 20 warm-up ones) through the bare relay, timed at the reader. */
async function bareThroughput(chunk: LogChunk, messages: number): Promise<Rate & { latency: Percentiles }> {
  const warm = 20;
  const { reader, pump, close } = await openBareStream(chunk, warm + messages);
  pump.setMode({ kind: 'max' });
  await reader.untilMessages(warm);
  reader.takeLatencies();
  const t0 = performance.now();
  await reader.untilMessages(warm + messages);
  const seconds = (performance.now() - t0) / 1000;
  const latency = percentiles(reader.takeLatencies());
  await close();
  return { ...rate(messages, seconds, chunk), latency };
}

function rate(messages: number, seconds: number, chunk: LogChunk): Rate {
  return {
    messages,
    seconds,
    mibPerSecond: (messages * chunk.lineBytes) / MiB / seconds,
    linesPerSecond: (messages * chunk.lines) / seconds,
  };
}

// ---------------------------------------------------------------------------------------------
// 2. CMD-7

/** Runs every fast stream in `mode` for PHASE_SECONDS (after a settle) and idles them again. */
async function fastPhase(
  label: string,
  mode: PumpMode,
  streams: { reader: FastReader; pump: LogPump }[],
  chunk: LogChunk,
): Promise<FastPhase> {
  // Paced pumps spread over the interval: a message each 1/n of it rather than n at once.
  streams.forEach((s, i) => s.pump.setMode(mode, i / streams.length));
  await sleep(SETTLE_MS);
  for (const s of streams) s.reader.takeLatencies();
  const m0 = streams.map((s) => s.reader.messages);
  const t0 = performance.now();
  await sleep(PHASE_SECONDS * 1000);
  const seconds = (performance.now() - t0) / 1000;
  const counts = streams.map((s, i) => s.reader.messages - (m0[i] ?? 0));
  const latency = percentiles(streams.flatMap((s) => s.reader.takeLatencies()));
  for (const s of streams) s.pump.setMode({ kind: 'idle' });
  const phase: FastPhase = {
    label,
    mode,
    aggregate: rate(
      counts.reduce((a, b) => a + b, 0),
      seconds,
      chunk,
    ),
    slowestStream: rate(Math.min(...counts), seconds, chunk),
    stalledStreams: counts.filter((c) => c === 0).length,
    latency,
  };
  log(
    `fast streams, ${label}: ${fmtRate(phase.aggregate)} in all, slowest stream ` +
      `${phase.slowestStream.mibPerSecond.toFixed(2)} MiB/s; latency ${fmt(latency)}`,
  );
  // Let the last in-flight messages land before the next phase.
  await sleep(SETTLE_MS / 2);
  return phase;
}

/**
 * Opens the slow reader, watches memory and the agent for SLOW_SECONDS (with `during` run after
 * SLOW_ALONE_SECONDS), then closes the reader and times the agent hearing `stop`.
 */
async function slowStream(
  server: RunningServer,
  agent: LogAgent,
  url: string,
  token: string,
  during: () => Promise<void>,
): Promise<SlowFigures> {
  const atOpen = memory(true);
  const next = agent.nextStream();
  const reader = await SlowReader.open(url, token, SLOW_BYTES_PER_TICK);
  const pump = await next;
  const t0 = performance.now();
  log(`slow reader open (${SLOW_BYTES_PER_TICK * 8} B/s); its agent sends as fast as the window lets it`);
  let maxRssWhileOpen = atOpen.rss;
  let maxServerBuffered = 0;
  let maxHeld = 0;
  let sentAfter1s = 0;
  const sampler = setInterval(() => {
    maxRssWhileOpen = Math.max(maxRssWhileOpen, process.memoryUsage.rss());
    const stats = server.services.logs.stream(pump.streamId)?.stats;
    if (stats !== undefined) {
      maxServerBuffered = Math.max(maxServerBuffered, stats.bufferedBytes);
      maxHeld = Math.max(maxHeld, stats.held);
    }
    if (sentAfter1s === 0 && performance.now() - t0 >= 1000) sentAfter1s = pump.sentLineBytes;
  }, 100);
  const progress = setInterval(() => {
    const s = server.services.logs.stream(pump.streamId)?.stats;
    log(
      `  slow stream at ${((performance.now() - t0) / 1000).toFixed(0)} s: agent sent ` +
        `${kib(pump.sentLineBytes)} (${pump.seq} messages, ${pump.acked + 1} acknowledged), reader took ` +
        `${kib(reader.bytesRead)}, server buffer ${kib(s?.bufferedBytes ?? 0)}, RSS ${mib(process.memoryUsage.rss())}`,
    );
  }, 5000);
  try {
    await sleep(SLOW_ALONE_SECONDS * 1000);
    const maxRssAlone = maxRssWhileOpen;
    const sentAfterAlone = pump.sentLineBytes;
    const afterAlone = memory(true);
    await during();
    const left = SLOW_SECONDS * 1000 - (performance.now() - t0);
    if (left > 0) await sleep(left);
    const seconds = (performance.now() - t0) / 1000;
    const atEnd = memory(true);
    const sentAtEnd = pump.sentLineBytes;
    const messagesSent = pump.seq;
    const messagesAcked = pump.acked + 1;
    const readerBytes = reader.bytesRead;
    const stats = server.services.logs.stream(pump.streamId)?.stats;
    const finishedOnServer = stats?.finished ?? true;
    const r0 = performance.now();
    reader.abort();
    const stopped = await until(() => pump.stopped, 10_000);
    const stopMs = stopped ? pump.stoppedAt - r0 : null;
    await sleep(500);
    const afterClose = memory(true);
    log(`slow reader closed; its agent heard stop after ${stopMs === null ? 'never (10 s)' : ms(stopMs)}`);
    return {
      atOpen,
      afterAlone,
      atEnd,
      afterClose,
      maxRssWhileOpen,
      maxRssAlone,
      maxServerBuffered,
      maxHeld,
      sentAfter1s,
      sentAfterAlone,
      sentAtEnd,
      messagesSent,
      messagesAcked,
      readerBytes,
      seconds,
      stopMs,
      finishedOnServer,
    };
  } finally {
    clearInterval(sampler);
    clearInterval(progress);
    reader.abort();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Time to first line

async function streamOpens(agent: LogAgent, url: string, getUrl: string, token: string): Promise<Opens> {
  const firstLines: number[] = [];
  const headers: number[] = [];
  const ended: number[] = [];
  const pumps: LogPump[] = [];
  log(`opening ${OPENS} streams one after another (tailLines=500; the agent answers with 2 messages and eof)`);
  for (let i = 0; i < OPENS; i++) {
    const next = agent.nextStream();
    const t0 = performance.now();
    const reader = await FastReader.open(url, token);
    headers.push(performance.now() - t0);
    pumps.push(await next);
    await reader.untilEnd();
    if (reader.final?.event !== 'end' || reader.messages !== 2) {
      throw new Error(`stream ${i} ended with ${reader.final?.event ?? 'nothing'} after ${reader.messages} messages`);
    }
    firstLines.push(reader.firstLinesAt - t0);
    ended.push(reader.endedAt - t0);
    if ((i + 1) % 50 === 0) log(`  ${i + 1} streams`);
  }
  const baseline: number[] = [];
  for (let i = 0; i < OPENS; i++) {
    const t0 = performance.now();
    await getJson(getUrl, token);
    baseline.push(performance.now() - t0);
  }
  const opens = {
    firstLines: percentiles(firstLines),
    headers: percentiles(headers),
    ended: percentiles(ended),
    baselineGet: percentiles(baseline),
    fullyAcked: pumps.filter((p) => p.acked === p.seq - 1).length,
  };
  log(`time to first line: ${fmt(opens.firstLines)}; baseline GET cluster: ${fmt(opens.baselineGet)}`);
  log(`  ${opens.fullyAcked} of ${OPENS} streams had every message acknowledged to the agent by now`);
  return opens;
}

function getJson(url: string, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET ${url}: ${res.statusCode}`))));
    });
    req.once('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// Set-up

async function adminToken(server: RunningServer): Promise<string> {
  const { auth } = server.services;
  const admin = await auth.bootstrapAdmin({ email: 'bench@example.com', password: 'bench-password' });
  if (admin === null) throw new Error('the bench database already has an administrator');
  return (await auth.createApiToken(admin.id, 'bench')).token;
}

/** Creates and enrolls `count` clusters, each reporting the logs capability in a heartbeat. */
async function createClusters(server: RunningServer, token: string, count: number): Promise<ClusterAgent[]> {
  const inv = generateClusterInventory({ nodes: 1, pods: 5, seed: 'bench-logs' });
  const body = JSON.stringify(
    buildFullHeartbeat(inv, { seq: 1, capabilities: { pods: true, logs: true, apply: false, selfUpdate: false } }),
  );
  const out: ClusterAgent[] = [];
  for (let i = 0; i < count; i++) {
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/v1/clusters',
      headers: { authorization: `Bearer ${token}` },
      payload: { name: `bench-logs-${i}`, environment: 'production' },
    });
    if (created.statusCode !== 201) throw new Error(`creating a cluster failed: ${created.statusCode} ${created.body}`);
    const { cluster, enrollment } = created.json<CreateClusterResponse>();
    const request: EnrollRequest = {
      token: enrollment.token,
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: `uid-${cluster.id}` },
    };
    const enrolled = await server.app.inject({ method: 'POST', url: '/api/agent/v1/enroll', payload: request });
    if (enrolled.statusCode !== 200) throw new Error(`enrollment failed: ${enrolled.statusCode} ${enrolled.body}`);
    const agentKey = enrolled.json<EnrollResponse>().agentKey;
    const hb = await server.app.inject({
      method: 'POST',
      url: '/api/agent/v1/heartbeat',
      headers: { authorization: `Bearer ${agentKey}`, 'content-type': 'application/json' },
      payload: body,
    });
    if (hb.statusCode !== 200) throw new Error(`heartbeat failed: ${hb.statusCode} ${hb.body.slice(0, 300)}`);
    out.push({ clusterId: cluster.id, agentKey });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** `gc()` without `--expose-gc` on the command line, so memory figures are live data, not garbage. */
function loadGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const fn: unknown = runInNewContext('gc');
  const isGc = (f: unknown): f is () => void => typeof f === 'function';
  if (!isGc(fn)) throw new Error('could not enable gc()');
  return fn;
}

function memory(collect: boolean): Memory {
  if (collect) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

const sleep = (millis: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, millis));

/** Polls `test` every 20 ms; false after `timeoutMs`. */
async function until(test: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!test()) {
    if (performance.now() > end) return false;
    await sleep(20);
  }
  return true;
}

const ms = (x: number): string => `${x.toFixed(1)} ms`;
const kib = (x: number): string => `${(x / 1024).toFixed(0)} KiB`;
const mib = (x: number): string => `${(x / MiB).toFixed(1)} MiB`;
const signedMib = (x: number): string => `${x >= 0 ? '+' : '−'}${(Math.abs(x) / MiB).toFixed(1)} MiB`;
const fmt = (p: Percentiles): string =>
  `p50 ${ms(p.p50)}, p90 ${ms(p.p90)}, p99 ${ms(p.p99)}, max ${ms(p.max)} (n=${p.count})`;
const fmtRate = (r: Rate): string =>
  `${r.mibPerSecond.toFixed(1)} MiB/s, ${Math.round(r.linesPerSecond).toLocaleString('en-US')} lines/s ` +
  `(${r.messages} messages in ${r.seconds.toFixed(1)} s)`;
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '–');

function report(f: Figures, seconds: number): string {
  const { niro, bare } = f.throughput;
  const s = f.slow;
  const growth = s.atEnd.rss - s.atOpen.rss;
  const aloneGrowth = s.afterAlone.rss - s.atOpen.rss;
  const live = (m: Memory): number => m.heapUsed + m.arrayBuffers;
  const liveGrowth = Math.max(live(s.afterAlone), live(s.atEnd)) - live(s.atOpen);
  const bar = Math.max(growth, aloneGrowth, liveGrowth) < SLOW_BAR_BYTES ? 'met' : 'missed';
  const byLabel = (label: string): FastPhase | undefined => f.fast.find((p) => p.label === label);
  const pacedWithout = byLabel('paced, no slow reader');
  const pacedWith = byLabel('paced, slow reader present');
  const maxWithout = byLabel('flat out, no slow reader');
  const maxWith = byLabel('flat out, slow reader present');
  const bareByLabel = (mode: string): FastPhase | undefined => byLabel(`baseline: bare relays, ${mode}`);
  const stalled = f.fast.reduce((a, p) => a + p.stalledStreams, 0);
  const fastRow = (p: FastPhase): string =>
    `| ${p.label} | ${p.aggregate.mibPerSecond.toFixed(2)} | ${p.slowestStream.mibPerSecond.toFixed(2)} | ` +
    `${p.stalledStreams} | ${ms(p.latency.p50)} | ${ms(p.latency.p90)} | ${ms(p.latency.p99)} | ${ms(p.latency.max)} | ${p.latency.count} |`;
  const latRow = (label: string, p: Percentiles): string =>
    `| ${label} | ${p.count} | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${ms(p.max)} |`;
  const withVsWithout = (w: FastPhase | undefined, wo: FastPhase | undefined): string =>
    w === undefined || wo === undefined
      ? '–'
      : `throughput ${ratio(w.aggregate.mibPerSecond, wo.aggregate.mibPerSecond)}, latency p50 ` +
        `${ratio(w.latency.p50, wo.latency.p50)}, p99 ${ratio(w.latency.p99, wo.latency.p99)}`;
  const rmem = readSysctl('net/ipv4/tcp_rmem');
  const wmem = readSysctl('net/ipv4/tcp_wmem');
  const lines = [
    '',
    `## ${new Date().toISOString()} — pod log streaming (\`npm run bench:logs\`)`,
    '',
    `- ${machineLine()}`,
    `- Load average at the start (1/5/15 min): ${formatLoad(startLoad)}; other work on the`,
    '  machine slows every row alike, so compare the rows of one section rather than sections.',
    '- One server process, SQLite in WAL mode. Simulated agents on the WebSocket gateway, SSE readers over',
    '  loopback HTTP (node:http), the baseline relay: all in the server’s process (one event loop).',
    `- A \`log\` message: ${f.chunk.lines} access-log lines, ${(f.chunk.lineBytes / 1024).toFixed(1)} KiB of line bytes`,
    `  (LOG_LIMITS.chunkBytes ${LOG_LIMITS.chunkBytes / 1024} KiB); the agent keeps at most ${LOG_LIMITS.window}`,
    '  unacknowledged. MiB/s and lines/s count line bytes as the reader receives them (after its SSE parse).',
    '  Latency: the agent stamps the first line when it sends the frame; the reader takes the time when it has',
    '  parsed the whole event (same clock). The reader splits events and reads the stamp; it does not',
    '  JSON-parse the lines.',
    '',
    '### One stream, fast reader',
    '',
    '| path | messages | s | MiB/s | lines/s | latency p50 | p99 |',
    '|---|---:|---:|---:|---:|---:|---:|',
    `| **Niro**: agent WebSocket → relay → SSE | ${niro.messages} | ${niro.seconds.toFixed(1)} | ${niro.mibPerSecond.toFixed(1)} | ${Math.round(niro.linesPerSecond)} | ${ms(niro.latency.p50)} | ${ms(niro.latency.p99)} |`,
    `| baseline: bare \`ws\` → chunked HTTP | ${bare.messages} | ${bare.seconds.toFixed(1)} | ${bare.mibPerSecond.toFixed(1)} | ${Math.round(bare.linesPerSecond)} | ${ms(bare.latency.p50)} | ${ms(bare.latency.p99)} |`,
    '',
    `- Niro / bare: throughput ${ratio(niro.mibPerSecond, bare.mibPerSecond)}, latency p50 ${ratio(niro.latency.p50, bare.latency.p50)}.`,
    '  Both flat out with the same window; the bare relay writes each frame as it came, with no parse,',
    '  validation or message bus (bench/logs-baseline.ts). Latency flat out is mostly the window queue.',
    '',
    '### CMD-7: a slow reader next to ten fast streams',
    '',
    `- Slow reader: takes ${SLOW_BYTES_PER_TICK} bytes every 125 ms (1 KiB/s) from a response it never lets flow; its`,
    `  agent sends as fast as the window lets it (one stream alone ran at ${niro.mibPerSecond.toFixed(0)} MiB/s above). Open`,
    `  ${s.seconds.toFixed(0)} s: ${SLOW_ALONE_SECONDS} s alone, then the fast phases below, then alone again.`,
    `- Fast streams: ${FAST_STREAMS}, each on its own cluster; paced at ${(f.pacedBytesPerSecond / 1024).toFixed(0)} KiB/s each`,
    `  (${((f.pacedBytesPerSecond * FAST_STREAMS) / MiB).toFixed(1)} MiB/s offered in all, the streams’ sends spread evenly), then flat out; ${PHASE_SECONDS} s per phase. Baseline rows: the`,
    `  same senders and readers on ${FAST_STREAMS} bare relays (one stream each), before the Niro rows.`,
    '',
    '| fast streams | MiB/s, all | MiB/s, slowest stream | stalled streams | p50 | p90 | p99 | max | messages |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...f.fast.map(fastRow),
    '',
    `- With / without the slow reader: paced: ${withVsWithout(pacedWith, pacedWithout)}; flat out:`,
    `  ${withVsWithout(maxWith, maxWithout)}. Fast streams that delivered nothing in a phase: ${stalled}.`,
    `- Niro / bare relays, no slow reader: paced: ${withVsWithout(pacedWithout, bareByLabel('paced'))}; flat out:`,
    `  ${withVsWithout(maxWithout, bareByLabel('flat out'))}.`,
    `- Slow stream: the agent sent ${kib(s.sentAfter1s)} of lines in the first second, ${kib(s.sentAfterAlone)} after ${SLOW_ALONE_SECONDS} s,`,
    `  ${kib(s.sentAtEnd)} after ${s.seconds.toFixed(0)} s (${s.messagesSent} messages, ${s.messagesAcked} acknowledged); the reader took`,
    `  ${kib(s.readerBytes)}. Window × chunk is ${kib(LOG_LIMITS.window * f.chunk.lineBytes)}; the rest sits in socket buffers (loopback`,
    `  tcp_rmem ${rmem}, tcp_wmem ${wmem}) and the readers’ 16 KiB stream buffers.`,
    `- Server buffer for the slow stream (response + socket writableLength, most seen): ${kib(s.maxServerBuffered)};`,
    `  messages held out of order, most seen: ${s.maxHeld}. Stream still open on the server at the end: ${s.finishedOnServer ? 'no' : 'yes'}.`,
    '- Process memory after a forced GC (server, agents and readers together):',
    '',
    '| when | RSS | heap used | Buffers (arrayBuffers) |',
    '|---|---:|---:|---:|',
    `| slow reader opens (fast streams idle) | ${mib(s.atOpen.rss)} | ${mib(s.atOpen.heapUsed)} | ${mib(s.atOpen.arrayBuffers)} |`,
    `| after ${SLOW_ALONE_SECONDS} s alone | ${mib(s.afterAlone.rss)} | ${mib(s.afterAlone.heapUsed)} | ${mib(s.afterAlone.arrayBuffers)} |`,
    `| after ${s.seconds.toFixed(0)} s, fast phases done | ${mib(s.atEnd.rss)} | ${mib(s.atEnd.heapUsed)} | ${mib(s.atEnd.arrayBuffers)} |`,
    `| 0.5 s after the slow reader left | ${mib(s.afterClose.rss)} | ${mib(s.afterClose.heapUsed)} | ${mib(s.afterClose.arrayBuffers)} |`,
    '',
    `- Heap + Buffers growth while the slow stream was open (most of the two later rows): ${signedMib(liveGrowth)}.`,
    `- RSS growth while the slow stream was open: ${signedMib(aloneGrowth)} over its first ${SLOW_ALONE_SECONDS} s alone (peak`,
    `  ${signedMib(s.maxRssAlone - s.atOpen.rss)}), ${signedMib(growth)} over ${s.seconds.toFixed(0)} s; peak without GC ${signedMib(s.maxRssWhileOpen - s.atOpen.rss)} (fast streams’ garbage`,
    `  included). Bar < 20 MiB for the slow stream: **${bar}**. The slow reader leaving reached its agent as \`stop\``,
    `  after ${s.stopMs === null ? 'no stop within 10 s' : ms(s.stopMs)}.`,
    '',
    '### Time to first line',
    '',
    `- ${f.opens.firstLines.count} streams opened one after another (\`?tailLines=500\`, not follow): request → the server queues the`,
    '  `logs` command → the gateway pushes it → the agent acks, answers and sends 2 messages and `log-end` eof',
    '  at once. Baseline: `GET /api/v1/clusters/{id}` with the same token and client.',
    '',
    '| measure | n | p50 | p90 | p99 | max |',
    '|---|---:|---:|---:|---:|---:|',
    latRow('**request → first `lines` event**', f.opens.firstLines),
    latRow('request → response headers (`open` follows)', f.opens.headers),
    latRow('request → stream ended (`end`)', f.opens.ended),
    latRow('baseline: GET cluster', f.opens.baselineGet),
    '',
    `- Ratios: first line / GET cluster p50 ${ratio(f.opens.firstLines.p50, f.opens.baselineGet.p50)}, p99 ${ratio(f.opens.firstLines.p99, f.opens.baselineGet.p99)}.`,
    `- Every reader got both messages and \`end\` eof. Streams whose every message the agent saw acknowledged`,
    `  by the end of the phase: ${f.opens.fullyAcked} of ${f.opens.firstLines.count}.`,
    ...(f.opens.fullyAcked < f.opens.firstLines.count
      ? [
          '  In the others the last message waits: it was written while the response waited for `drain`, the',
          '  `end` closed the response, no `drain` follows, and its acknowledgement wait on the agent’s',
          '  connection ends only after socketWaitMs (70 s) with `stop`.',
        ]
      : []),
    '',
    `Run time ${seconds.toFixed(0)} s.`,
    '',
  ];
  return lines.join('\n');
}

function readSysctl(name: string): string {
  try {
    return fs.readFileSync(`/proc/sys/${name}`, 'utf8').trim().replace(/\s+/g, ' ');
  } catch {
    return 'unknown';
  }
}

const log = (line: string): void => console.log(line);

await main();
