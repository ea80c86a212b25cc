import os from 'node:os';

/** The CPU model and its logical core count: `model (N logical cores)`. */
export function cpuDescription(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'} (${cpus.length} logical cores)`;
}

/** `CPU: …; Node …; platform arch; N GiB RAM`, the machine line of a report (without its list dash). */
export function machineLine(): string {
  return (
    `CPU: ${cpuDescription()}; Node ${process.version}; ${os.platform()} ${os.arch()}; ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB RAM`
  );
}

/** Load averages (from os.loadavg()) to two decimals, `a / b / c` unless told another separator. */
export function formatLoad(l: readonly number[], separator = ' / '): string {
  return l.map((x) => x.toFixed(2)).join(separator);
}
