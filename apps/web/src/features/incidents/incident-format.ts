import type { IncidentSeverity, IncidentState } from '@niro/protocol';

export const SEVERITY_COLOR: Record<IncidentSeverity, string> = { high: 'red', medium: 'orange', low: 'yellow' };

export const STATE_COLOR: Record<IncidentState, string> = { firing: 'red', acknowledged: 'blue', resolved: 'green' };

/** `pod_crash_looping` → `Pod crash looping`. */
export function typeLabel(type: string): string {
  const words = type.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Milliseconds since an ISO timestamp (0 for an unreadable one). */
export function ageOf(iso: string, now: number): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : Math.max(0, now - t);
}
