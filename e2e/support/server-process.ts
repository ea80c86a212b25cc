import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '@niro/protocol';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI_MAIN = path.join(REPO_ROOT, 'apps/cli/src/main.ts');
/** The start-up banner on stderr (apps/cli/src/commands/server.ts), the one line printed at every log level. */
const BANNER = /Niro is running at (http:\/\/[^\s]+)/;

export type ServerLogLine = { level: number; msg: string; [key: string]: unknown };

export type ServerProcessOptions = {
  /** More `NIRO_*` variables (NIRO_DATABASE_URL, NIRO_ADMIN_EMAIL/PASSWORD, NIRO_OFFLINE_AFTER, …). */
  env?: Record<string, string>;
  /** Kept across restarts; a fresh temporary directory (removed by stop()) when absent. */
  dataDir?: string;
  /** 0 (default) lets the first start pick a free port; restarts keep the port it got. */
  port?: number;
  /** NIRO_LOG_LEVEL, `info` by default. */
  logLevel?: string;
  /** How long a start may take until /readyz answers 200. */
  startTimeoutMs?: number;
};

export type ServerProcess = {
  /** `http://127.0.0.1:<port>`, the same across restarts. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The current child process (a new one after restart()). */
  readonly child: ChildProcess;
  /** When the current run printed its banner (it listens from then on), in ms since the epoch. */
  readonly listeningAt: number;
  /** Parsed JSON log lines of every run so far, in order. */
  logs: ServerLogLine[];
  /** Every line the processes wrote, stdout and stderr, raw. */
  output: string[];
  /** Resolves with the first log line matching, waiting up to `timeoutMs`. */
  waitForLog(match: (line: ServerLogLine) => boolean, timeoutMs?: number): Promise<ServerLogLine>;
  /** Sends the signal (SIGKILL by default) and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same port, data dir and environment (stopping the running one first with SIGTERM). */
  restart(): Promise<void>;
  /** SIGTERM (SIGKILL after 10 s), then removes the data dir if this helper created it. */
  stop(): Promise<void>;
};

type Run = { child: ChildProcess; exited: Promise<void> };

/**
 * Runs `niro server` from the CLI's sources as its own process, as an operator would, so a test
 * can SIGKILL it mid-work and start it again on the same port and data: the crash a process
 * boundary makes real, which an in-process server cannot show.
 */
export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'niro-e2e-proc-'));
  const logs: ServerLogLine[] = [];
  const output: string[] = [];
  const waiters = new Set<() => void>();
  let port = options.port ?? 0;
  let run: Run | null = null;
  let listeningAt = 0;

  const onLine = (line: string): void => {
    output.push(line);
    if (line.startsWith('{')) {
      try {
        const parsed: unknown = JSON.parse(line);
        if (isLogLine(parsed)) logs.push(parsed);
      } catch {
        // Not a log line: kept in `output`.
      }
    }
    for (const w of waiters) w();
  };

  const tail = (): string => output.slice(-20).join('\n');

  const launch = async (): Promise<void> => {
    const child = spawn(process.execPath, ['--conditions=@niro/source', '--import', 'tsx', CLI_MAIN, 'server'], {
      cwd: REPO_ROOT,
      // Only what is given: no NIRO_* of the test runner leaks in.
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        NIRO_PORT: String(port),
        NIRO_HOST: '127.0.0.1',
        NIRO_DATA_DIR: dataDir,
        NIRO_LOG_LEVEL: options.logLevel ?? 'info',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
    if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    run = { child, exited };

    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    // Only this run's lines count: an earlier run's banner names the same port.
    const from = output.length;
    const banner = await new Promise<string>((resolve, reject) => {
      const check = (): void => {
        for (const line of output.slice(from)) {
          const m = BANNER.exec(line);
          if (m?.[1] !== undefined) {
            listeningAt = Date.now();
            return finish(() => resolve(m[1] ?? ''));
          }
        }
      };
      const onExit = (): void =>
        finish(() => reject(new Error(`niro server exited during start-up; last lines:\n${tail()}`)));
      const timer = setTimeout(
        () => finish(() => reject(new Error(`niro server did not start in time; last lines:\n${tail()}`))),
        deadline - Date.now(),
      );
      function finish(done: () => void): void {
        clearTimeout(timer);
        waiters.delete(check);
        child.off('exit', onExit);
        done();
      }
      waiters.add(check);
      child.once('exit', onExit);
      check();
    });
    port = Number(new URL(banner).port);
    // Listening is not ready: /readyz also checks the database.
    while (!(await ready(`http://127.0.0.1:${port}`))) {
      if (Date.now() > deadline) throw new Error(`niro server never answered /readyz; last lines:\n${tail()}`);
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`niro server exited before it was ready; last lines:\n${tail()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const current = run;
    if (current === null) return;
    const { child, exited } = current;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    if (run === current) run = null;
  };

  try {
    await launch();
  } catch (err) {
    // The caller gets no handle to stop it with: nothing may outlive a failed start.
    await kill('SIGKILL');
    if (ownDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    dataDir,
    get listeningAt() {
      return listeningAt;
    },
    get child() {
      if (run === null) throw new Error('the server process is not running');
      return run.child;
    },
    logs,
    output,
    waitForLog(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = logs.find(match);
          if (found === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching server log line within ${timeoutMs} ms; last lines:\n${tail()}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    kill,
    async restart() {
      await stopGracefully();
      await launch();
    },
    async stop() {
      await stopGracefully();
      if (ownDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };

  async function stopGracefully(): Promise<void> {
    const current = run;
    if (current === null) return;
    const timer = setTimeout(() => current.child.kill('SIGKILL'), 10_000);
    await kill('SIGTERM');
    clearTimeout(timer);
  }
}

async function ready(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

function isLogLine(v: unknown): v is ServerLogLine {
  return (
    typeof v === 'object' &&
    v !== null &&
    'level' in v &&
    typeof v.level === 'number' &&
    'msg' in v &&
    typeof v.msg === 'string'
  );
}

export type EnrolledCluster = { clusterId: string; name: string; agentKey: string };

/**
 * Creates clusters through `POST /api/v1/clusters` and enrolls each with its token through
 * `POST /api/agent/v1/enroll`, as the dashboard and an installed agent do, a few at a time.
 */
export async function enrollClustersOverApi(
  url: string,
  token: string,
  count: number,
  options: { namePrefix: string; concurrency?: number },
): Promise<EnrolledCluster[]> {
  const api = new ApiClient({ baseUrl: url, token });
  const anonymous = new ApiClient({ baseUrl: url });
  const out: EnrolledCluster[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const name = `${options.namePrefix}-${String(i).padStart(4, '0')}`;
      const created = await api.createCluster({ name, environment: 'production' });
      const { clusterId, agentKey } = await anonymous.enroll({
        token: created.enrollment.token,
        agent: { version: '0.1.0' },
        cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: `uid-${created.cluster.id}` },
      });
      out[i] = { clusterId, name, agentKey };
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, count) }, worker));
  return out;
}
