import { createInterface } from 'node:readline';
import { Writable, type Readable } from 'node:stream';

/**
 * Everything the CLI shows goes through here: results on stdout (tables or JSON), messages,
 * prompts and progress on stderr, so `niro … -o json | jq` and `niro server | jq` stay clean.
 */
export type TerminalWritable = Writable & { isTTY?: boolean; columns?: number };
export type TerminalReadable = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

export type Streams = { stdout: TerminalWritable; stderr: TerminalWritable; stdin: TerminalReadable };

export function processStreams(): Streams {
  // `niro … | head` closes the pipe early; that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
}

export type OutputFormat = 'table' | 'json';

export class Output {
  private statusActive = false;

  constructor(readonly streams: Streams) {}

  /** A prompt can be shown and answered (stdin and stderr are terminals). */
  get interactive(): boolean {
    return this.streams.stdin.isTTY === true && this.streams.stderr.isTTY === true;
  }

  /** Raw text to stdout (commander's help goes here). */
  writeOut(text: string): void {
    this.streams.stdout.write(text);
  }

  /** Raw text to stderr. */
  writeErr(text: string): void {
    this.clearStatus();
    this.streams.stderr.write(text);
  }

  /** One line of result on stdout. */
  line(text = ''): void {
    this.streams.stdout.write(`${text}\n`);
  }

  json(value: unknown): void {
    this.streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Left-aligned columns separated by three spaces, headers first. */
  table(headers: readonly string[], rows: readonly (readonly string[])[]): void {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const format = (cells: readonly string[]): string =>
      cells
        .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('   ')
        .trimEnd();
    this.line(format(headers));
    for (const row of rows) this.line(format(row));
  }

  /** Key/value lines for a detail view. */
  fields(entries: readonly (readonly [string, string])[]): void {
    const width = Math.max(0, ...entries.map(([k]) => k.length)) + 1;
    for (const [k, v] of entries) this.line(`${`${k}:`.padEnd(width)} ${v}`);
  }

  /** A message for the person at the terminal (stderr). */
  info(text = ''): void {
    this.writeErr(`${text}\n`);
  }

  /** `niro: <message>` on stderr. */
  error(message: string): void {
    this.writeErr(`niro: ${message}\n`);
  }

  /** stderr is a terminal (progress lines can rewrite themselves). */
  get terminal(): boolean {
    return this.streams.stderr.isTTY === true;
  }

  /** A progress line that rewrites itself on a terminal and prints plainly elsewhere. */
  status(text: string): void {
    if (this.streams.stderr.isTTY === true) {
      const width = this.streams.stderr.columns ?? 120;
      this.streams.stderr.write(`\r\x1b[2K${text.slice(0, Math.max(20, width - 1))}`);
      this.statusActive = true;
    } else {
      this.streams.stderr.write(`${text}\n`);
    }
  }

  /** Ends a progress line so the next message starts on its own line. */
  clearStatus(): void {
    if (!this.statusActive) return;
    this.statusActive = false;
    this.streams.stderr.write('\n');
  }

  /** Asks on stderr and reads one line; `hidden` never echoes what is typed (passwords). */
  async prompt(question: string, options: { hidden?: boolean } = {}): Promise<string> {
    this.clearStatus();
    const stderr = this.streams.stderr;
    let muted = false;
    const echo = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (!muted) stderr.write(chunk);
        cb();
      },
    });
    const rl = createInterface({ input: this.streams.stdin, output: echo, terminal: this.interactive });
    try {
      return await new Promise<string>((resolve, reject) => {
        rl.once('close', () => reject(new Error('no answer (input closed)')));
        rl.question(question, (answer) => {
          if (options.hidden) stderr.write('\n');
          resolve(answer);
        });
        muted = options.hidden === true;
      });
    } finally {
      muted = false;
      rl.close();
    }
  }

  /** All of stdin as text, for `--password-stdin`. */
  async readStdin(): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.streams.stdin) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
