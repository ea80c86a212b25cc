/** How lines are cut and grouped into `log` messages (LOG_LIMITS in the protocol). */
export type LineLimits = {
  /** One line, as UTF-8 bytes; the rest is dropped and counted in a marker. */
  lineBytes: number;
  /** Lines of one batch, as UTF-8 bytes. */
  chunkBytes: number;
  chunkLines: number;
};

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Splits a container log's bytes into lines. Lines are cut at `\n` bytes, which never occur inside
 * a multi-byte UTF-8 character, and decoded whole, so a character split across chunks stays
 * intact. A line longer than `lineBytes` keeps its first bytes (never half a character) and
 * ends with `…[truncated N bytes]`; the dropped bytes are counted, not held, so memory stays flat
 * however long a line without a newline runs.
 */
export class LogLineSplitter {
  #parts: Buffer[] = [];
  #keptBytes = 0;
  #droppedBytes = 0;

  constructor(private readonly lineBytes: number) {}

  /** Calls `onLine` for every line that `chunk` completes. */
  push(chunk: Buffer, onLine: (line: string) => void): void {
    let start = 0;
    for (let newline = chunk.indexOf(NEWLINE); newline !== -1; newline = chunk.indexOf(NEWLINE, start)) {
      this.#append(chunk.subarray(start, newline));
      onLine(this.#take(true));
      start = newline + 1;
    }
    // Copied: a view would keep the whole chunk alive until the line ends.
    if (start < chunk.length) this.#append(Buffer.from(chunk.subarray(start)));
  }

  /** The log ended: a last line without a newline still counts. */
  end(onLine: (line: string) => void): void {
    if (this.#keptBytes > 0 || this.#droppedBytes > 0) onLine(this.#take(false));
  }

  #append(bytes: Buffer): void {
    const room = this.lineBytes - this.#keptBytes;
    if (bytes.length <= room) {
      if (bytes.length > 0) this.#parts.push(bytes);
      this.#keptBytes += bytes.length;
      return;
    }
    if (room > 0) this.#parts.push(bytes.subarray(0, room));
    this.#keptBytes += Math.max(room, 0);
    this.#droppedBytes += bytes.length - Math.max(room, 0);
  }

  #take(newlineEnded: boolean): string {
    let bytes = this.#parts.length === 1 && this.#parts[0] !== undefined ? this.#parts[0] : Buffer.concat(this.#parts);
    let dropped = this.#droppedBytes;
    this.#parts = [];
    this.#keptBytes = 0;
    this.#droppedBytes = 0;
    if (dropped > 0) {
      const whole = wholeCharacters(bytes);
      dropped += bytes.length - whole;
      bytes = bytes.subarray(0, whole);
      return `${bytes.toString('utf8')}…[truncated ${dropped} bytes]`;
    }
    // CRLF endings: the CR belongs to the line break, not to the text.
    if (newlineEnded && bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN) {
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    return bytes.toString('utf8');
  }
}

/** How many leading bytes of `bytes` end on a UTF-8 character boundary. */
function wholeCharacters(bytes: Buffer): number {
  // Back over at most three continuation bytes (10xxxxxx) to the last lead byte.
  let lead = bytes.length - 1;
  while (lead >= 0 && bytes.length - lead <= 4 && ((bytes[lead] ?? 0) & 0xc0) === 0x80) lead -= 1;
  if (lead < 0) return bytes.length;
  const first = bytes[lead] ?? 0;
  const size = first < 0x80 ? 1 : first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
  return lead + size <= bytes.length ? bytes.length : lead;
}

/**
 * Groups lines into batches of at most `chunkLines` lines and `chunkBytes` UTF-8 bytes. A batch
 * goes out when the next line would not fit, or when the owner flushes (quiet stream, end).
 */
export class LogBatcher {
  #lines: string[] = [];
  #bytes = 0;

  constructor(
    private readonly limits: Pick<LineLimits, 'chunkBytes' | 'chunkLines'>,
    private readonly onBatch: (lines: string[]) => void,
  ) {}

  /** Lines waiting for the next batch. */
  get pending(): number {
    return this.#lines.length;
  }

  add(line: string): void {
    const size = Buffer.byteLength(line);
    if (this.#lines.length > 0 && this.#bytes + size > this.limits.chunkBytes) this.flush();
    this.#lines.push(line);
    this.#bytes += size;
    if (this.#lines.length >= this.limits.chunkLines || this.#bytes >= this.limits.chunkBytes) this.flush();
  }

  flush(): void {
    if (this.#lines.length === 0) return;
    const lines = this.#lines;
    this.#lines = [];
    this.#bytes = 0;
    this.onBatch(lines);
  }
}
