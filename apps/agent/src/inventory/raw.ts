/**
 * Checked access to Kubernetes objects as they arrive from the API (plain JSON, `unknown`).
 * A missing or mistyped field reads as undefined instead of throwing.
 */
export type Raw = Record<string, unknown>;

export const isObject = (x: unknown): x is Raw => typeof x === 'object' && x !== null && !Array.isArray(x);

export function field(x: unknown, ...path: string[]): unknown {
  let cur = x;
  for (const key of path) {
    if (!isObject(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

export const str = (x: unknown, ...path: string[]): string | undefined => {
  const v = field(x, ...path);
  return typeof v === 'string' ? v : undefined;
};

export const num = (x: unknown, ...path: string[]): number | undefined => {
  const v = field(x, ...path);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

export const bool = (x: unknown, ...path: string[]): boolean | undefined => {
  const v = field(x, ...path);
  return typeof v === 'boolean' ? v : undefined;
};

export const list = (x: unknown, ...path: string[]): unknown[] => {
  const v = field(x, ...path);
  return Array.isArray(v) ? v : [];
};

export const obj = (x: unknown, ...path: string[]): Raw | undefined => {
  const v = field(x, ...path);
  return isObject(v) ? v : undefined;
};

/** A string map such as labels or annotations; non-string values are dropped. */
export function stringMap(x: unknown, ...path: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const v = obj(x, ...path);
  if (v === undefined) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** Cuts a string to the protocol's limit for that field. */
export const clip = (s: string, max: number): string => (s.length <= max ? s : s.slice(0, max));

const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

/** A Kubernetes resource quantity ("250m", "1.5Gi", "1e3") as a plain number; undefined when invalid. */
export function parseQuantity(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = QUANTITY.exec(value.trim());
  if (m === null) return undefined;
  const base = Number(m[1]);
  if (m[2] !== undefined) return base * 10 ** Number(m[2].slice(1));
  const suffix = m[3] ?? '';
  const factor = BINARY[suffix] ?? DECIMAL[suffix];
  return factor === undefined ? undefined : base * factor;
}

/** CPU in millicores, rounded up like the scheduler does ("1" → 1000, "250m" → 250, "100u" → 1). */
export function cpuMilli(value: unknown): number | undefined {
  const q = parseQuantity(value);
  return q === undefined || q < 0 ? undefined : Math.ceil(Math.round(q * 1e9) / 1e6);
}

/** Memory (or any count) in whole units, rounded up. */
export function wholeUnits(value: unknown): number | undefined {
  const q = parseQuantity(value);
  return q === undefined || q < 0 ? undefined : Math.ceil(q);
}
