/**
 * The packed layouts of usage history (ADR 0010). A row per series and hour holds that hour's
 * twelve 5-minute buckets; a row per cluster and minute holds every pod's raw sample of that
 * minute. Numbers are unsigned LEB128 varints; bucket values are zigzag deltas from the same
 * field of the previous bucket of the row, so the steady values of a chart take a byte or two.
 *
 * Hour row: format byte, then the sample count that every bucket of the row has, or 0 when they
 * differ. With a common count, a bitmap of the present slots follows; without, each slot from the
 * first up to the last present one starts with its own count (0 = no bucket). A present bucket
 * then holds, when the layout has nullable fields, a mask of its non-null fields, and one delta
 * per (non-null) field.
 *
 * Minute row: format byte, then per pod, by ascending series id: the id's delta from the
 * previous one, CPU (millicores) and memory (bytes).
 */

/** Seconds per bucket of the 24-hour view. */
export const BUCKET_SECONDS = 300;
export const HOUR_SECONDS = 3600;
export const BUCKETS_PER_HOUR = HOUR_SECONDS / BUCKET_SECONDS;

const HOUR_FORMAT = 1;
const MINUTE_FORMAT = 1;
/**
 * Values are kept within [0, 2^52): deltas of such values and their zigzag form stay exact
 * doubles. Usage figures never come near (2^52 bytes is 4 PiB).
 */
const MAX_VALUE = 2 ** 52 - 1;

/** One 5-minute bucket: how many samples it stands for and its values (null: no sample had one). */
export type PackedBucket = { samples: number; values: (number | null)[] };
/** The buckets of one hour by slot (0 = the hour's first 5 minutes); null where there is none. */
export type HourSlots = (PackedBucket | null)[];

/** The fields of an hour row: cluster rows have six nullable ones, pod rows two that never are. */
export type HourLayout = { fields: number; nullable: boolean };
export const CLUSTER_HOUR: HourLayout = { fields: 6, nullable: true };
export const POD_HOUR: HourLayout = { fields: 2, nullable: false };

/** A pod's raw sample in a minute row. */
export type PackedPodSample = { seriesId: number; cpuMilli: number; memoryBytes: number };

export class CorruptUsageDataError extends Error {
  constructor(what: string) {
    super(`corrupt usage history data: ${what}`);
    this.name = 'CorruptUsageDataError';
  }
}

const clamp = (n: number): number => (n > MAX_VALUE ? MAX_VALUE : n < 0 ? 0 : Math.round(n));

class ByteWriter {
  private buf = new Uint8Array(64);
  private len = 0;

  byte(b: number): void {
    if (this.len === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.len++] = b;
  }

  /** Unsigned varint of a non-negative safe integer (no bitwise operators: they are 32-bit). */
  varint(n: number): void {
    let v = n;
    while (v >= 128) {
      this.byte((v % 128) + 128);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }

  signed(n: number): void {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

class ByteReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  byte(): number {
    const b = this.buf[this.pos++];
    if (b === undefined) throw new CorruptUsageDataError('truncated');
    return b;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      value += (b % 128) * scale;
      if (b < 128) return value;
      scale *= 128;
      if (scale > 2 ** 56) throw new CorruptUsageDataError('varint too long');
    }
  }

  signed(): number {
    const z = this.varint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
}

export function encodeHour(slots: HourSlots, layout: HourLayout): Uint8Array {
  const w = new ByteWriter();
  w.byte(HOUR_FORMAT);
  let last = -1;
  let present = 0;
  let common: number | null = null;
  for (let s = 0; s < BUCKETS_PER_HOUR; s++) {
    const n = clamp(slots[s]?.samples ?? 0);
    if (n === 0) continue;
    last = s;
    present += 2 ** s;
    common = common === null || common === n ? n : 0;
  }
  const shared = common !== null && common > 0;
  w.varint(common ?? 0);
  if (shared) w.varint(present);
  const previous = new Array<number>(layout.fields).fill(0);
  for (let s = 0; s <= last; s++) {
    const bucket = slots[s];
    if (bucket === null || bucket === undefined || clamp(bucket.samples) === 0) {
      if (!shared) w.varint(0);
      continue;
    }
    if (!shared) w.varint(clamp(bucket.samples));
    if (layout.nullable) {
      let mask = 0;
      for (let f = 0; f < layout.fields; f++) if (bucket.values[f] !== null) mask += 2 ** f;
      w.varint(mask);
    }
    for (let f = 0; f < layout.fields; f++) {
      const raw = bucket.values[f] ?? null;
      if (raw === null) {
        if (layout.nullable) continue;
        throw new Error(`usage field ${f} cannot be null in this layout`);
      }
      const v = clamp(raw);
      w.signed(v - (previous[f] ?? 0));
      previous[f] = v;
    }
  }
  return w.bytes();
}

export function decodeHour(data: Uint8Array, layout: HourLayout): HourSlots {
  const r = new ByteReader(data);
  if (r.byte() !== HOUR_FORMAT) throw new CorruptUsageDataError('unknown hour format');
  const slots: HourSlots = new Array<PackedBucket | null>(BUCKETS_PER_HOUR).fill(null);
  const previous = new Array<number>(layout.fields).fill(0);
  const common = r.done ? 0 : r.varint();
  const present = common > 0 ? r.varint() : 0;
  for (let s = 0; s < BUCKETS_PER_HOUR; s++) {
    if (common === 0 && r.done) break;
    const samples = common > 0 ? (Math.floor(present / 2 ** s) % 2 === 1 ? common : 0) : r.varint();
    if (samples === 0) continue;
    const mask = layout.nullable ? r.varint() : 2 ** layout.fields - 1;
    const values: (number | null)[] = [];
    for (let f = 0; f < layout.fields; f++) {
      if (Math.floor(mask / 2 ** f) % 2 === 0) {
        values.push(null);
        continue;
      }
      const v = (previous[f] ?? 0) + r.signed();
      previous[f] = v;
      values.push(v);
    }
    slots[s] = { samples, values };
  }
  if (!r.done) throw new CorruptUsageDataError('trailing bytes');
  return slots;
}

/** Pods of one minute, any order; a series id given twice keeps its first sample. */
export function encodePodSamples(samples: readonly PackedPodSample[]): Uint8Array {
  const sorted = [...samples].sort((a, b) => a.seriesId - b.seriesId);
  const w = new ByteWriter();
  w.byte(MINUTE_FORMAT);
  let previousId = -1;
  for (const s of sorted) {
    if (s.seriesId === previousId) continue;
    w.varint(previousId < 0 ? s.seriesId : s.seriesId - previousId);
    w.varint(clamp(s.cpuMilli));
    w.varint(clamp(s.memoryBytes));
    previousId = s.seriesId;
  }
  return w.bytes();
}

export function decodePodSamples(data: Uint8Array): PackedPodSample[] {
  const r = new ByteReader(data);
  if (r.byte() !== MINUTE_FORMAT) throw new CorruptUsageDataError('unknown minute format');
  const out: PackedPodSample[] = [];
  let previousId = -1;
  while (!r.done) {
    const delta = r.varint();
    const seriesId = previousId < 0 ? delta : previousId + delta;
    out.push({ seriesId, cpuMilli: r.varint(), memoryBytes: r.varint() });
    previousId = seriesId;
  }
  return out;
}

/**
 * Two buckets of the same five minutes as one: averages weighted by sample count, maxima the
 * larger (`maxFields` lists which fields are maxima). The rollup uses it for a late sample, reads
 * for the raw hour.
 */
export function mergeBuckets(a: PackedBucket, b: PackedBucket, maxFields: ReadonlySet<number>): PackedBucket {
  const values = a.values.map((av, f) => {
    const bv = b.values[f] ?? null;
    if (av === null) return bv;
    if (bv === null) return av;
    return maxFields.has(f)
      ? Math.max(av, bv)
      : Math.round((av * a.samples + bv * b.samples) / (a.samples + b.samples));
  });
  return { samples: a.samples + b.samples, values };
}

/** Cluster rows: fields 1, 3 and 5 (cpu, memory and pods maxima) are maxima. */
export const CLUSTER_MAX_FIELDS: ReadonlySet<number> = new Set([1, 3, 5]);
export const POD_MAX_FIELDS: ReadonlySet<number> = new Set();

export const hourOf = (s: number): number => Math.floor(s / HOUR_SECONDS) * HOUR_SECONDS;
export const slotOf = (bucketS: number): number => Math.floor((bucketS - hourOf(bucketS)) / BUCKET_SECONDS);
