/** How many lines the viewer keeps; older lines fall off the front. */
export const LOG_BUFFER_LINES = 10_000;

/** A frozen view of the buffer: its lines and the number (from 1) of the first of them. */
export type LogSnapshot = { lines: readonly string[]; firstLineNumber: number; received: number };

/**
 * A bounded buffer of log lines. `received` counts every line ever added, so a reader can tell how
 * many arrived since a moment (a pause) even after older lines were dropped.
 */
export class LogBuffer {
  private lines: string[] = [];
  private dropped = 0;

  constructor(readonly capacity: number = LOG_BUFFER_LINES) {}

  get received(): number {
    return this.dropped + this.lines.length;
  }

  push(lines: readonly string[]): void {
    for (const line of lines) this.lines.push(line);
    const over = this.lines.length - this.capacity;
    if (over > 0) {
      // One splice per batch rather than a shift per line: batches arrive a few times a second.
      this.lines.splice(0, over);
      this.dropped += over;
    }
  }

  clear(): void {
    this.dropped += this.lines.length;
    this.lines = [];
  }

  snapshot(): LogSnapshot {
    return { lines: this.lines.slice(), firstLineNumber: this.dropped + 1, received: this.received };
  }
}

/** Indices of the lines containing `query`, ignoring case; none for an empty query. */
export function findMatches(lines: readonly string[], query: string): number[] {
  const q = query.toLowerCase();
  if (q === '') return [];
  const found: number[] = [];
  for (let i = 0; i < lines.length; i++) if ((lines[i] ?? '').toLowerCase().includes(q)) found.push(i);
  return found;
}

/** The line split around every occurrence of `query` (ignoring case): odd parts are the matches. */
export function splitMatches(line: string, query: string): string[] {
  if (query === '') return [line];
  const lower = line.toLowerCase();
  const q = query.toLowerCase();
  const parts: string[] = [];
  let from = 0;
  for (;;) {
    const at = lower.indexOf(q, from);
    if (at < 0) break;
    parts.push(line.slice(from, at), line.slice(at, at + q.length));
    from = at + q.length;
  }
  parts.push(line.slice(from));
  return parts;
}
