import { spawn } from 'node:child_process';
import { access, constants, lstat, readdir, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import type { NiroError } from '../../errors.js';

const MAX_STDERR_CHARS = 32 * 1024;

/** One time limit for a whole import; also carries the caller's abort signal. */
export class Deadline {
  private readonly atMs: number;

  constructor(
    readonly timeoutMs: number,
    private readonly onTimeout: () => NiroError,
    readonly signal?: AbortSignal,
  ) {
    this.atMs = Date.now() + timeoutMs;
  }

  remainingMs(): number {
    return Math.max(0, this.atMs - Date.now());
  }

  /** Throws the abort reason or the timeout error when either has happened. */
  check(): void {
    this.signal?.throwIfAborted();
    if (this.remainingMs() <= 0) throw this.onTimeout();
  }

  timeoutError(): NiroError {
    return this.onTimeout();
  }
}

export type ProcessOutput = {
  code: number | null;
  stdout: Buffer;
  /** True when stdout went over maxStdoutBytes: the process was killed and stdout is cut. */
  stdoutTruncated: boolean;
  stderr: string;
};

export type RunProcessOptions = {
  cwd: string;
  env: NodeJS.ProcessEnv;
  deadline: Deadline;
  maxStdoutBytes: number;
  /** Polled while the process runs; an error it returns kills the process and is thrown. */
  watch?: { intervalMs: number; check: () => Promise<NiroError | undefined> };
};

/**
 * Runs a program in its own process group (so git's helpers die with it) and kills the whole group
 * on timeout, abort, a watch error or too much output. Resolves only after every process of the
 * group has closed its output, so nothing writes into a folder the caller is about to remove.
 */
export function runProcess(file: string, args: readonly string[], options: RunProcessOptions): Promise<ProcessOutput> {
  options.deadline.check();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stdoutTruncated = false;
    let stderr = '';
    let stopping = false;
    let stopError: unknown;
    let finished = false;
    let watchTimer: NodeJS.Timeout | undefined;

    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    };
    const stop = (error?: unknown): void => {
      if (stopping) return;
      stopping = true;
      stopError = error;
      killGroup();
    };
    const onAbort = (): void => stop(options.deadline.signal?.reason);
    const timer = setTimeout(() => stop(options.deadline.timeoutError()), options.deadline.remainingMs());
    options.deadline.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanUp = (): void => {
      finished = true;
      clearTimeout(timer);
      if (watchTimer !== undefined) clearTimeout(watchTimer);
      options.deadline.signal?.removeEventListener('abort', onAbort);
    };

    const watch = options.watch;
    if (watch !== undefined) {
      const tick = (): void => {
        watch
          .check()
          .catch(() => undefined)
          .then((error) => {
            if (finished || stopping) return;
            if (error !== undefined) stop(error);
            else watchTimer = setTimeout(tick, watch.intervalMs);
          })
          .catch(() => undefined);
      };
      watchTimer = setTimeout(tick, watch.intervalMs);
    }

    child.stdout.on('data', (chunk: Buffer) => {
      if (stdoutTruncated) return;
      const room = options.maxStdoutBytes - stdoutBytes;
      if (chunk.length > room) {
        stdout.push(chunk.subarray(0, room));
        stdoutBytes += room;
        stdoutTruncated = true;
        stop();
        return;
      }
      stdout.push(chunk);
      stdoutBytes += chunk.length;
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < MAX_STDERR_CHARS) stderr += chunk;
    });
    child.on('error', (error) => {
      if (finished) return;
      cleanUp();
      killGroup();
      reject(error);
    });
    child.on('close', (code) => {
      if (finished) return;
      cleanUp();
      if (stopError !== undefined) reject(stopError);
      else resolve({ code, stdout: Buffer.concat(stdout), stdoutTruncated, stderr });
    });
  });
}

/** Bytes of all files under `dir` (symlinks counted as links); missing entries count as 0. */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await folderBytes(path);
    else {
      try {
        total += (await lstat(path)).size;
      } catch {
        // Removed while counting (git renames its temp packs).
      }
    }
  }
  return total;
}

/** Absolute path of an executable found on `searchPath` (a PATH-style list), or undefined. */
export async function findExecutable(name: string, searchPath: string): Promise<string | undefined> {
  if (isAbsolute(name)) return (await isExecutable(name)) ? name : undefined;
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
