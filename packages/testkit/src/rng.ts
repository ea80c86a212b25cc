/**
 * A small seeded PRNG (mulberry32) so that simulated fleets are reproducible: the same seed
 * gives the same clusters, pods and churn on every run and every machine.
 */
export type Rng = {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** A string of `length` characters drawn from `alphabet`. */
  string(length: number, alphabet: string): string;
  /** A random (version 4 shaped) UUID. */
  uuid(): string;
  /** An independent generator derived from this one and a label. */
  fork(label: string): Rng;
};

export type Seed = number | string;

/** 32-bit FNV-1a, used to turn string seeds and labels into numbers. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function createRng(seed: Seed): Rng {
  let state = (typeof seed === 'number' ? seed : hash32(seed)) >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  const rng: Rng = {
    next,
    int,
    chance: (p) => p > 0 && next() < p,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(0, items.length - 1)] as T;
    },
    string(length, alphabet) {
      let out = '';
      for (let i = 0; i < length; i++) out += alphabet.charAt(int(0, alphabet.length - 1));
      return out;
    },
    uuid() {
      const hex = rng.string(32, '0123456789abcdef');
      const variant = '89ab'.charAt(int(0, 3));
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20)}`;
    },
    fork: (label) => createRng((hash32(label) ^ Math.floor(next() * 4294967296)) >>> 0),
  };
  return rng;
}
