import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSimulation, type Simulation } from '@niro/testkit';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

const email = 'web-stream@example.test';
const password = 'web stream passphrase 42';
const CLUSTERS = 120;

type Chunk = { at: number; text: string };
type Response = { status: number; headers: http.IncomingHttpHeaders; chunks: Chunk[]; startedAt: number };

/** GET with node:http, keeping the body as the chunks it arrived in. */
function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    http
      .get(url, { headers }, (res) => {
        const chunks: Chunk[] = [];
        res.setEncoding('utf8');
        res.on('data', (text: string) => chunks.push({ at: performance.now(), text }));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, chunks, startedAt }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const chunkIndex = (r: Response, needle: string): number => r.chunks.findIndex((c) => c.text.includes(needle));

describe('dashboard over plain HTTP (a real server process, a simulated fleet)', () => {
  let server: ServerProcess;
  let sim: Simulation;
  let cookie: string;

  beforeAll(async () => {
    server = await startServerProcess({ env: { NIRO_ADMIN_EMAIL: email, NIRO_ADMIN_PASSWORD: password } });
    sim = runSimulation({
      url: server.url,
      email,
      password,
      clusters: CLUSTERS,
      nodes: 3,
      pods: 30,
      seed: 'web-stream',
    });
    await sim.ready;
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(login.status).toBe(200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    cookie = setCookie.split(';')[0] ?? '';
    expect(cookie).toMatch(/^niro_session=/);
  }, 120_000);

  afterAll(async () => {
    await sim?.stop();
    await server?.stop();
  });

  it('sends the shell first and streams the fleet into the same response', async ({ annotate }) => {
    const res = await get(`${server.url}/`, { cookie });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    const body = res.chunks.map((c) => c.text).join('');
    const shell = chunkIndex(res, 'data-testid="fleet-loading"');
    const data = chunkIndex(res, 'id="niro-fleet-data"');
    expect(shell).toBeGreaterThanOrEqual(0);
    expect(data).toBeGreaterThan(shell);
    // The shell carries the page frame and the script; the fleet rows come with the data.
    const shellText = res.chunks
      .slice(0, shell + 1)
      .map((c) => c.text)
      .join('');
    expect(shellText).toContain('<header');
    expect(shellText).toContain('<script type="module" src="/assets/');
    // The entry's own imports are announced with it, not discovered after it has loaded.
    expect(shellText).toMatch(/<link rel="modulepreload" href="\/assets\/[^"]+\.js"/);
    expect(shellText).not.toContain('data-cluster=');
    const rows = body.match(/<tr[^>]*data-cluster="/g) ?? [];
    expect(rows).toHaveLength(CLUSTERS);
    for (const c of sim.clusters().slice(0, 5)) expect(body).toContain(`data-cluster="${c.name}"`);
    // Without JavaScript the fallback is hidden and the streamed segment shown (plain HTML table).
    expect(body).toContain('<noscript><style>');
    expect(body).toMatch(/<div hidden="" id="S:0">|<div hidden id="S:0">/);
    // The data leaves with the first screen of rows; the rows below the fold follow in a second
    // segment (a hidden table, since rows must sit in a table body), after the data.
    const later = body.search(/<table hidden(="")?><tbody id="S:1">/);
    expect(later).toBeGreaterThan(body.indexOf('id="niro-fleet-data"'));
    const firstRows = body.slice(0, later).match(/<tr[^>]*data-cluster="/g) ?? [];
    expect(firstRows.length).toBeLessThan(CLUSTERS);
    expect(body).toContain('table[hidden]{display:table!important}');
    const firstAt = res.chunks[0]?.at ?? res.startedAt;
    const dataAt = res.chunks[data]?.at ?? firstAt;
    await annotate(
      `[web] ${CLUSTERS} clusters: shell first byte ${(firstAt - res.startedAt).toFixed(1)} ms, ` +
        `fleet data ${(dataAt - res.startedAt).toFixed(1)} ms, ${res.chunks.length} chunks, ${body.length} bytes`,
    );
  });

  it('sends an unauthenticated visitor to the login page and back', async () => {
    const res = await get(`${server.url}/`);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/login?next=/');
    const login = await get(`${server.url}/login?next=/`);
    expect(login.status).toBe(200);
    const html = login.chunks.map((c) => c.text).join('');
    expect(html).toContain('Sign in to Niro');
    expect(html).not.toContain('Create the first admin');
    // Signed in, the login page forwards to `next`; another host is never a target.
    const signedIn = await get(`${server.url}/login?next=//evil.example/`, { cookie });
    expect(signedIn.status).toBe(302);
    expect(signedIn.headers.location).toBe('/');
  });

  it('serves the built assets with immutable caching and keeps the API routes', async () => {
    const page = (await get(`${server.url}/login`)).chunks.map((c) => c.text).join('');
    const script = /<script type="module" src="(\/assets\/[^"]+\.js)"/.exec(page)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${server.url}${script ?? ''}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toContain('text/javascript');
    expect((await fetch(`${server.url}/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/v1/fleet`)).status).toBe(401);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
