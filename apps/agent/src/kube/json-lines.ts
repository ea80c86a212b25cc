import { StringDecoder } from 'node:string_decoder';

/** One watch event is one line; a larger line means a broken stream, not an object to buffer forever. */
export const MAX_LINE_LENGTH = 64 * 1024 * 1024;

/**
 * Splits a byte stream into lines. Chunks may end mid-line or mid-character; only the unfinished
 * tail is kept between chunks, so memory stays flat however long the stream runs.
 */
export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  #tail = '';

  constructor(private readonly maxLineLength: number = MAX_LINE_LENGTH) {}

  /** Calls `onLine` for every complete, non-blank line in `chunk`. */
  push(chunk: Buffer | string, onLine: (line: string) => void): void {
    const text = this.#tail + (typeof chunk === 'string' ? chunk : this.#decoder.write(chunk));
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      const line = text.slice(start, newline).trim();
      start = newline + 1;
      if (line !== '') onLine(line);
    }
    this.#tail = text.slice(start);
    if (this.#tail.length > this.maxLineLength) throw new Error(`a line longer than ${this.maxLineLength} characters`);
  }

  /** The stream ended: a last line without a newline still counts. */
  end(onLine: (line: string) => void): void {
    const line = (this.#tail + this.#decoder.end()).trim();
    this.#tail = '';
    if (line !== '') onLine(line);
  }
}
