import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { DEFAULT_WEB_DIST_DIR } from '../web-bundle.js';

declare module 'vitest' {
  export interface ProvidedContext {
    browser: { executablePath: string | null; reason: string };
  }
}

const CHROMIUM = process.env.NIRO_CHROMIUM_PATH ?? '/usr/bin/chromium';
const WEB_DIR = path.resolve(DEFAULT_WEB_DIST_DIR, '..');

/** Newest modification time under a directory (the web sources), 0 when absent. */
function newestMtimeMs(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * Once per test run: builds the dashboard when its build is missing or older than its sources
 * (about two seconds), so the server under test serves the current pages; and finds Chromium for
 * the browser tests, which are skipped without it unless NIRO_REQUIRE_BROWSER=1 (CI).
 */
export default function setup(project: TestProject): void {
  withBuildLock(() => {
    const built = path.join(DEFAULT_WEB_DIST_DIR, 'server', 'entry-server.js');
    const builtAt = fs.existsSync(built) ? fs.statSync(built).mtimeMs : 0;
    const sourcesAt = Math.max(
      newestMtimeMs(path.join(WEB_DIR, 'src')),
      fs.statSync(path.join(WEB_DIR, 'vite.config.ts')).mtimeMs,
    );
    if (builtAt >= sourcesAt) return;
    // eslint-disable-next-line no-console -- the test run's own output, like vitest.global-setup.ts
    console.warn('[niro tests] building the dashboard (vite build) for the web tests');
    const vite = path.join(WEB_DIR, 'node_modules', '.bin', 'vite');
    const bin = fs.existsSync(vite) ? vite : path.resolve(WEB_DIR, '..', '..', 'node_modules', '.bin', 'vite');
    // vitest sets NODE_ENV=test, which would bundle React's development build: the tests serve
    // what `npm run build` ships (and bench:web measures it).
    const env = { ...process.env, NODE_ENV: 'production' };
    try {
      execFileSync(bin, ['build', '--logLevel', 'warn'], { cwd: WEB_DIR, stdio: 'inherit', env });
      execFileSync(bin, ['build', '--ssr', '--logLevel', 'warn'], { cwd: WEB_DIR, stdio: 'inherit', env });
    } catch {
      // The output above says why. Only the dashboard's tests need the build: they fail on their
      // own (a 503 or the previous build), every other test still runs.
      // eslint-disable-next-line no-console -- the test run's own output
      console.error('[niro tests] building the dashboard failed; the web tests will fail');
    }
  });

  if (fs.existsSync(CHROMIUM)) {
    project.provide('browser', { executablePath: CHROMIUM, reason: '' });
    return;
  }
  const reason = `no Chromium at ${CHROMIUM}; install it with \`apt-get install chromium\` (Debian) or set NIRO_CHROMIUM_PATH`;
  if (process.env.NIRO_REQUIRE_BROWSER === '1') throw new Error(`NIRO_REQUIRE_BROWSER=1 but ${reason}`);
  // eslint-disable-next-line no-console -- the test run's own output
  console.warn(`[niro tests] browser tests skipped: ${reason}`);
  project.provide('browser', { executablePath: null, reason });
}

/**
 * Two test runs on one checkout (a developer's watch mode and a second terminal) must not rebuild
 * the bundle at the same time: one would empty dist/ under the other's server. A lock file, taken
 * with O_EXCL, waited for (a build takes seconds) and broken when older than two minutes.
 */
function withBuildLock(build: () => void): void {
  const lock = path.join(WEB_DIR, '.build-lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      fs.closeSync(fs.openSync(lock, 'wx'));
      break;
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) throw err;
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 120_000 || Date.now() > deadline) fs.rmSync(lock, { force: true });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    build();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}
