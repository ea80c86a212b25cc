import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const AGENT_MAIN = fileURLToPath(new URL('../../apps/agent/src/main.ts', import.meta.url));

export type AgentLogLine = { level: number; msg: string; [key: string]: unknown };

export type AgentProcess = {
  child: ChildProcess;
  /** Parsed JSON log lines, in order. */
  logs: AgentLogLine[];
  /** Everything the process wrote, stdout and stderr, raw. */
  output: string[];
  exited: Promise<number | null>;
  /** Resolves with the first log line matching, waiting up to `timeoutMs`. */
  waitForLog(match: (line: AgentLogLine) => boolean, timeoutMs?: number): Promise<AgentLogLine>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
};

export type AgentProcessOptions = {
  /** A compiled `main.js` to run with plain `node` instead of the sources under tsx. */
  main?: string;
  /** Node.js flags placed before the script. */
  nodeArgs?: string[];
};

/**
 * Runs `niro-agent` as its own process (from its sources unless a compiled `main` is given), with
 * only the environment given: no inherited KUBECONFIG or NIRO_* variables leak in from the test
 * runner.
 */
export function startAgentProcess(env: Record<string, string>, options: AgentProcessOptions = {}): AgentProcess {
  const script =
    options.main === undefined ? ['--conditions=@niro/source', '--import', 'tsx', AGENT_MAIN] : [options.main];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...script], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: AgentLogLine[] = [];
  const output: string[] = [];
  const waiters = new Set<() => void>();
  const onLine = (line: string): void => {
    output.push(line);
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null && 'msg' in parsed && 'level' in parsed) {
        logs.push(parsed as AgentLogLine);
        for (const w of waiters) w();
      }
    } catch {
      // Not a log line (e.g. a stack trace on stderr): kept in `output`.
    }
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
  if (child.stderr) createInterface({ input: child.stderr }).on('line', onLine);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLog = (match: (line: AgentLogLine) => boolean, timeoutMs = 30_000): Promise<AgentLogLine> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = logs.find(match);
        if (found === undefined) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`no matching agent log line within ${timeoutMs} ms; last lines:\n${output.slice(-15).join('\n')}`),
        );
      }, timeoutMs);
      const onExit = (): void => {
        if (check()) return;
        cleanup();
        reject(
          new Error(`the agent exited before the expected log line; last lines:\n${output.slice(-15).join('\n')}`),
        );
      };
      const waiter = (): void => void check();
      function cleanup(): void {
        clearTimeout(timer);
        waiters.delete(waiter);
        child.off('exit', onExit);
      }
      waiters.add(waiter);
      child.once('exit', onExit);
      check();
    });

  return {
    child,
    logs,
    output,
    exited,
    waitForLog,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
