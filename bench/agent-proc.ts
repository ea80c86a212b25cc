import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Resident memory of a process from /proc/<pid>/status, in bytes: now and its high-water mark. */
export type Memory = { rssBytes: number; hwmBytes: number };

export function readMemory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match?.[1] === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
}

/** Clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
export function clockTicksPerSecond(): number {
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  if (!Number.isInteger(ticks) || ticks <= 0) throw new Error(`getconf CLK_TCK gave ${ticks}`);
  return ticks;
}

/** CPU time (user + system) a process has used so far, in seconds. */
export function readCpuSeconds(pid: number, ticksPerSecond: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5) are utime and stime; field 3 (state) is index 0 here.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot read utime/stime of ${pid}`);
  return (utime + stime) / ticksPerSecond;
}

/** A CPU and wall-clock reading of one process, to subtract from a later one. */
export type CpuMark = { cpuSeconds: number; atMs: number };

export const cpuMark = (pid: number, ticksPerSecond: number): CpuMark => ({
  cpuSeconds: readCpuSeconds(pid, ticksPerSecond),
  atMs: performance.now(),
});

export type IdleProcess = { label: string; child: ChildProcess; pid: number; stop(): Promise<void> };

/** A Node process that only keeps a timer alive: the memory and CPU floor of a Node daemon. */
export function startIdleNode(label: string, nodeArgs: string[]): IdleProcess {
  const child = spawn(process.execPath, [...nodeArgs, '-e', 'setInterval(() => {}, 1000)'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const { pid } = child;
  if (pid === undefined) throw new Error(`could not start ${label}`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    label,
    child,
    pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
