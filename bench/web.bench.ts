/**
 * Dashboard benchmark (issue 7; goals: shell < 20 ms, streamed fleet data < 150 ms for 1,000
 * clusters, initial JavaScript < 250 KB gzipped).
 *
 * A real server in this process (SQLite, the built dashboard from apps/web/dist), 1,000 simulated
 * clusters from @niro/testkit brought up through the API and enrolled, each with its first
 * heartbeat (full inventory) accepted; then the agents stop, so the figures are the server's and
 * not the simulator's. A signed-in session (the cookie a browser holds), then ROUNDS rounds of,
 * in turn, over one keep-alive connection:
 *
 * - `GET /` (the fleet overview): time to the first byte (the shell), time to the chunk that
 *   carries the streamed fleet data (`id="niro-fleet-data"`), time to the last byte (every row).
 * - `GET /api/v1/fleet` (the JSON the page polls): time to the last byte. The baseline: the same
 *   query without rendering; the ratios say what streaming HTML costs on top.
 *
 * The initial JavaScript: every script the shell references (module scripts and modulepreloads),
 * fetched from the server and gzipped (level 6, as a reverse proxy would), plus, from the Vite
 * manifest, the entry's static imports (which must be among them).
 *
 * Appends a dated section to bench/RESULTS.md. Run: `npm run bench:web` (after `npm run build`).
 * `NIRO_BENCH_QUICK=1`: 200 clusters, 10 rounds, nothing recorded.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createLogger, startServer } from '@niro/server';
import { runSimulation } from '@niro/testkit';
import { formatLoad, machineLine } from './machine.js';

const QUICK = process.env.NIRO_BENCH_QUICK === '1';
const CLUSTERS = QUICK ? 200 : 1000;
const NODES = 3;
const PODS = 30;
const ROUNDS = QUICK ? 10 : 100;
const WARMUP = QUICK ? 3 : 10;
const GOALS = { shellMs: 20, dataMs: 150, initialJsKb: 250 };
const EMAIL = 'bench-web@example.test';
const PASSWORD = 'bench web passphrase 42';
const DATA_MARKER = 'id="niro-fleet-data"';

const here = path.dirname(fileURLToPath(import.meta.url));
const WEB_DIST = path.resolve(here, '..', 'apps', 'web', 'dist');
const startLoad = os.loadavg();

const log = (msg: string): void => console.log(`[bench:web] ${msg}`);

type Timing = { firstByteMs: number; dataMs: number | null; endMs: number; bytes: number; status: number };

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One GET over the keep-alive connection, timing the first byte, the data marker and the end. */
function timedGet(url: string, cookie: string, marker: string | null): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = http.get(url, { agent, headers: { cookie, accept: '*/*' } }, (res) => {
      let firstByteMs = -1;
      let dataMs: number | null = null;
      let bytes = 0;
      let tail = '';
      res.on('data', (chunk: Buffer) => {
        const now = performance.now() - start;
        if (firstByteMs < 0) firstByteMs = now;
        bytes += chunk.length;
        if (marker !== null && dataMs === null) {
          // The marker may straddle two chunks: keep the end of the previous one.
          const text = tail + chunk.toString('utf8');
          if (text.includes(marker)) dataMs = now;
          tail = text.slice(-marker.length);
        }
      });
      res.on('end', () =>
        resolve({ firstByteMs, dataMs, endMs: performance.now() - start, bytes, status: res.statusCode ?? 0 }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function fetchText(url: string, cookie = ''): Promise<string> {
  const res = await fetch(url, { headers: { cookie } });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res.text();
}

type Percentiles = { n: number; p50: number; p90: number; p99: number; max: number };
function percentiles(values: number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))] ?? NaN;
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1] ?? NaN };
}
const ms = (v: number): string => (v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`);
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

/** The entry chunk and its static imports, from the Vite manifest. */
function manifestInitialFiles(): string[] {
  const manifestPath = path.join(WEB_DIST, 'client', '.vite', 'manifest.json');
  const manifest: unknown = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  if (typeof manifest !== 'object' || manifest === null) throw new Error('unreadable Vite manifest');
  const chunks = new Map(Object.entries(manifest));
  const files = new Set<string>();
  const visit = (key: string): void => {
    const chunk: unknown = chunks.get(key);
    if (typeof chunk !== 'object' || chunk === null || !('file' in chunk) || typeof chunk.file !== 'string') return;
    if (files.has(chunk.file)) return;
    files.add(chunk.file);
    const imports = 'imports' in chunk && Array.isArray(chunk.imports) ? chunk.imports : [];
    for (const i of imports) if (typeof i === 'string') visit(i);
  };
  for (const [key, chunk] of chunks) {
    if (typeof chunk === 'object' && chunk !== null && 'isEntry' in chunk && chunk.isEntry === true) visit(key);
  }
  return [...files].map((f) => `/${f}`);
}

async function main(): Promise<void> {
  const builtAt = path.join(WEB_DIST, 'server', 'entry-server.js');
  if (!fs.existsSync(builtAt)) throw new Error('the dashboard is not built: run `npm run build` first');

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-bench-web-'));
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const server = await startServer({
    config: {
      NIRO_PORT: '0',
      NIRO_HOST: '127.0.0.1',
      NIRO_DATA_DIR: dataDir,
      NIRO_LOG_LEVEL: 'warn',
      NIRO_ADMIN_EMAIL: EMAIL,
      NIRO_ADMIN_PASSWORD: PASSWORD,
    },
    logger: createLogger('warn', quiet),
  });
  const started = performance.now();
  try {
    log(`server at ${server.url}; bringing up ${CLUSTERS} simulated clusters (${NODES} nodes / ${PODS} pods)`);
    const sim = runSimulation({
      url: server.url,
      email: EMAIL,
      password: PASSWORD,
      clusters: CLUSTERS,
      nodes: NODES,
      pods: PODS,
      seed: 'bench-web',
    });
    await sim.ready;
    while (sim.progress().heartbeating < CLUSTERS) {
      const p = sim.progress();
      if (p.phase === 'failed') throw new Error(`the simulation failed: ${p.lastError ?? 'unknown error'}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await sim.stop();
    const setupSeconds = (performance.now() - started) / 1000;
    log(`fleet up in ${setupSeconds.toFixed(1)} s; agents stopped`);

    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
    });
    if (login.status !== 200) throw new Error(`login: ${login.status}`);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';

    const page: Timing[] = [];
    const json: Timing[] = [];
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const p = await timedGet(`${server.url}/`, cookie, DATA_MARKER);
      const j = await timedGet(`${server.url}/api/v1/fleet`, cookie, null);
      if (p.status !== 200 || j.status !== 200 || p.dataMs === null) {
        throw new Error(
          `round ${i}: page ${p.status} (data ${p.dataMs === null ? 'missing' : 'seen'}), fleet ${j.status}`,
        );
      }
      if (i >= WARMUP) {
        page.push(p);
        json.push(j);
      }
    }
    const html = await fetchText(`${server.url}/`, cookie);
    const rows = (html.match(/<tr[^>]*data-cluster="/g) ?? []).length;
    if (rows !== CLUSTERS) throw new Error(`the page has ${rows} cluster rows, expected ${CLUSTERS}`);

    // The initial JavaScript: what the shell makes the browser load before it can hydrate.
    const shellScripts = [
      ...html.matchAll(/<script[^>]*type="module"[^>]*src="([^"]+)"/g),
      ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g),
      ...html.matchAll(/<link[^>]*href="([^"]+)"[^>]*rel="modulepreload"/g),
    ].map((m) => m[1] ?? '');
    const fromManifest = manifestInitialFiles();
    const initial = [...new Set([...shellScripts, ...fromManifest])].filter((s) => s !== '');
    const missingFromShell = fromManifest.filter((f) => !shellScripts.includes(f));
    let rawJs = 0;
    let gzJs = 0;
    for (const src of initial) {
      const body = Buffer.from(await (await fetch(`${server.url}${src}`)).arrayBuffer());
      rawJs += body.length;
      gzJs += gzipSync(body, { level: 6 }).length;
    }
    const styles = [...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g)].map((m) => m[1] ?? '');
    let rawCss = 0;
    let gzCss = 0;
    for (const href of styles) {
      const body = Buffer.from(await (await fetch(`${server.url}${href}`)).arrayBuffer());
      rawCss += body.length;
      gzCss += gzipSync(body, { level: 6 }).length;
    }

    const r = {
      shell: percentiles(page.map((t) => t.firstByteMs)),
      data: percentiles(page.map((t) => t.dataMs ?? NaN)),
      end: percentiles(page.map((t) => t.endMs)),
      json: percentiles(json.map((t) => t.endMs)),
      jsonFirst: percentiles(json.map((t) => t.firstByteMs)),
      pageBytes: page[0]?.bytes ?? 0,
      pageGzip: gzipSync(Buffer.from(html), { level: 6 }).length,
      jsonBytes: json[0]?.bytes ?? 0,
      scripts: initial,
      missingFromShell,
      rawJs,
      gzJs,
      rawCss,
      gzCss,
      setupSeconds,
    };
    log(
      `shell TTFB p50 ${ms(r.shell.p50)} p90 ${ms(r.shell.p90)}; fleet data p50 ${ms(r.data.p50)} p90 ${ms(r.data.p90)}; ` +
        `page end p50 ${ms(r.end.p50)}; GET /api/v1/fleet first byte p50 ${ms(r.jsonFirst.p50)}, complete p50 ${ms(r.json.p50)}; initial JS ${kb(gzJs)} gzipped (${kb(rawJs)} raw)`,
    );
    if (QUICK) {
      log('quick run: nothing recorded');
      return;
    }
    fs.appendFileSync(path.join(here, 'RESULTS.md'), report(r, (performance.now() - started) / 1000));
    log('appended to bench/RESULTS.md');
  } finally {
    agent.destroy();
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

type Result = {
  shell: Percentiles;
  data: Percentiles;
  end: Percentiles;
  json: Percentiles;
  jsonFirst: Percentiles;
  pageBytes: number;
  pageGzip: number;
  jsonBytes: number;
  scripts: string[];
  missingFromShell: string[];
  rawJs: number;
  gzJs: number;
  rawCss: number;
  gzCss: number;
  setupSeconds: number;
};

function report(r: Result, seconds: number): string {
  const met = (value: number, goal: number): string => (value < goal ? 'met' : '**not met**');
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
  const row = (label: string, p: Percentiles, goal: string): string =>
    `| ${label} | ${p.n} | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p99)} | ${ms(p.max)} | ${goal} |`;
  return [
    '',
    `## ${new Date().toISOString()} — dashboard: streamed fleet overview, ${CLUSTERS.toLocaleString('en')} clusters (\`npm run bench:web\`)`,
    '',
    `- ${machineLine()}`,
    `- Load average at the start (1/5/15 min): ${formatLoad(startLoad)}; at the end: ${formatLoad(os.loadavg())}.`,
    `- Server in this process (SQLite), the production build of apps/web. Fleet: ${CLUSTERS} simulated clusters`,
    `  (${NODES} nodes / ${PODS} pods each, @niro/testkit) created, enrolled and with their first heartbeat accepted`,
    `  (${r.setupSeconds.toFixed(0)} s), then the agents stopped. A signed-in session cookie; ${ROUNDS} rounds after ${WARMUP}`,
    '  warm-up rounds, each `GET /` then `GET /api/v1/fleet`, one after the other over one keep-alive connection.',
    '- Shell: time to the first byte of `GET /`. Fleet data: time to the chunk carrying the streamed fleet',
    '  (`id="niro-fleet-data"`, followed by the rows). Page complete: the last byte (every row). Baseline: the',
    '  last byte of `GET /api/v1/fleet`, the same query serialized as JSON without rendering.',
    '',
    '| request | n | p50 | p90 | p99 | max | goal |',
    '|---|---:|---:|---:|---:|---:|---|',
    row('`GET /` shell (first byte)', r.shell, `< ${GOALS.shellMs} ms: ${met(r.shell.p90, GOALS.shellMs)} (p90)`),
    row('`GET /` fleet data arrives', r.data, `< ${GOALS.dataMs} ms: ${met(r.data.p90, GOALS.dataMs)} (p90)`),
    row('`GET /` complete (last byte)', r.end, `< ${GOALS.dataMs} ms: ${met(r.end.p90, GOALS.dataMs)} (p90)`),
    row('`GET /api/v1/fleet` first byte', r.jsonFirst, 'baseline'),
    row('`GET /api/v1/fleet` complete (baseline)', r.json, 'baseline'),
    '',
    '| ratio (p50) | value |',
    '|---|---:|',
    `| shell first byte / fleet JSON complete | ${ratio(r.shell.p50, r.json.p50)} |`,
    `| fleet data / fleet JSON complete | ${ratio(r.data.p50, r.json.p50)} |`,
    `| page complete / fleet JSON complete | ${ratio(r.end.p50, r.json.p50)} |`,
    '',
    '| payload | raw | gzipped (level 6) | goal |',
    '|---|---:|---:|---|',
    `| initial JavaScript (${r.scripts.length} file${r.scripts.length === 1 ? '' : 's'}: ${r.scripts.join(', ')}) | ${kb(r.rawJs)} | ${kb(r.gzJs)} | < ${GOALS.initialJsKb} KB: ${met(r.gzJs / 1024, GOALS.initialJsKb)} |`,
    `| stylesheets | ${kb(r.rawCss)} | ${kb(r.gzCss)} | |`,
    `| \`GET /\` HTML, ${CLUSTERS} clusters | ${kb(r.pageBytes)} | ${kb(r.pageGzip)} | |`,
    `| \`GET /api/v1/fleet\` JSON | ${kb(r.jsonBytes)} | | |`,
    '',
    `Run time ${seconds.toFixed(0)} s.${r.missingFromShell.length > 0 ? ` Static imports the shell does not reference: ${r.missingFromShell.join(', ')}.` : ''}`,
    `Reading the run: the shell's first byte left after ${ms(r.shell.p50)} at p50 (${ms(r.shell.p90)} p90): it does not`,
    `wait for the fleet query, and came ${ratio(r.shell.p50, r.json.p50)} as fast as the whole JSON answer. The streamed fleet`,
    `data arrived at ${ms(r.data.p50)} p50 (${ms(r.data.p90)} p90) and the last row at ${ms(r.end.p50)} p50, against`,
    `${ms(r.json.p50)} for the same fleet as JSON: rendering ${CLUSTERS.toLocaleString('en')} rows to HTML (and embedding the data for`,
    `hydration) adds about ${ms(Math.max(0, r.end.p50 - r.json.p50))} at p50. The browser loads ${kb(r.gzJs)} of JavaScript (gzipped)`,
    `before the page is interactive; without it the streamed HTML table is the whole page.`,
    '',
  ].join('\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
