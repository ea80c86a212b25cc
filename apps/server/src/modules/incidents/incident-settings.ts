import type { IncidentSettings } from '@niro/protocol';
import { isRecord } from '../../lib/validation.js';

/** DESIGN 4.2's thresholds: what an org gets until an admin changes them. */
export const DEFAULT_INCIDENT_SETTINGS: Readonly<IncidentSettings> = Object.freeze({
  crashLoopRestarts: 3,
  crashLoopWindowMinutes: 10,
  oomWindowMinutes: 10,
  resolveAfterHeartbeats: 2,
});

const LIMITS: Record<keyof IncidentSettings, readonly [number, number]> = {
  crashLoopRestarts: [1, 1000],
  crashLoopWindowMinutes: [1, 1440],
  oomWindowMinutes: [1, 1440],
  resolveAfterHeartbeats: [1, 20],
};

/**
 * The org's stored settings over the defaults. Stored JSON is read back field by field: a field
 * that is missing or out of range (say, written by an older version) falls back to its default.
 */
export function settingsFromJson(text: string | undefined): IncidentSettings {
  const out: IncidentSettings = { ...DEFAULT_INCIDENT_SETTINGS };
  if (text === undefined) return out;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return out;
  }
  if (!isRecord(value)) return out;
  for (const key of Object.keys(LIMITS) as (keyof IncidentSettings)[]) {
    const v = value[key];
    const [min, max] = LIMITS[key];
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) out[key] = v;
  }
  return out;
}
