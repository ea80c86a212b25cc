/** "12s ago", "5m ago", "3h ago", "2d ago"; "never" for null. */
export function ago(iso: string | null, now: number = Date.now()): string {
  if (iso === null) return 'never';
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export function bytes(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function cpu(milli: number | null): string {
  if (milli === null) return '-';
  return milli >= 1000 ? `${(milli / 1000).toFixed(milli % 1000 === 0 ? 0 : 1)} cores` : `${Math.round(milli)}m`;
}

export function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}=${v}`);
  return parts.length > 0 ? parts.join(',') : '-';
}

export function ms(value: number | null): string {
  return value === null ? '-' : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

/** "1 node", "3 nodes". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
