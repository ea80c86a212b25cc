/** Bytes in binary units, as kubectl top prints them (Mi, Gi). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '–';
  const units = ['B', 'Ki', 'Mi', 'Gi', 'Ti'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** CPU as kubectl reads it: millicores below one core (`250m`), cores above (`1.5 cores`, `32 cores`). */
export function formatCpu(milli: number | null | undefined): string {
  if (milli === null || milli === undefined || !Number.isFinite(milli)) return '–';
  if (milli < 1000) return `${Math.round(milli)}m`;
  const cores = Math.round(milli / 100) / 10;
  return `${cores} ${cores === 1 ? 'core' : 'cores'}`;
}

/** A timestamp in the reader's locale, to the second. */
export function formatTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '–';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toLocaleString();
}

/** A share as a whole percentage, or – when the total is unknown. */
export function formatPercent(part: number | null | undefined, total: number | null | undefined): string {
  if (part === null || part === undefined || total === null || total === undefined || total <= 0) return '–';
  return `${Math.round((part / total) * 100)}%`;
}
