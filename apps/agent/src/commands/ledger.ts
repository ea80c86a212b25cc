import type { CommandResultBody } from '@niro/protocol';

export type LedgerOptions = {
  /** Command ids remembered; default 1,000. */
  maxEntries?: number;
  /**
   * Bytes of full results kept; older results shrink to their status and error (default 4 MB),
   * so a thousand large apply results do not sit in the agent's memory.
   */
  maxResultBytes?: number;
};

/** `body` and `bytes` are set once the command is done and while its full result is kept. */
type Entry = { result: Promise<CommandResultBody>; body?: CommandResultBody | undefined; bytes: number };

/**
 * The ids of recent commands with their results. Delivery is at least once, so the same command
 * may arrive again (after a reconnect, or while it still runs): it is then answered with the first
 * run's result instead of running twice.
 */
export class CommandLedger {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxResultBytes: number;
  #resultBytes = 0;

  constructor(options: LedgerOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 1_000;
    this.#maxResultBytes = options.maxResultBytes ?? 4 * 1024 * 1024;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Runs `execute` unless `id` ran before (or is running); `repeated` tells which. */
  run(
    id: string,
    execute: () => Promise<CommandResultBody>,
  ): { result: Promise<CommandResultBody>; repeated: boolean } {
    const known = this.#entries.get(id);
    if (known !== undefined) return { result: known.result, repeated: true };
    const entry: Entry = { result: execute(), bytes: 0 };
    this.#entries.set(id, entry);
    this.#evictOldest();
    entry.result.then(
      (body) => this.#settled(id, entry, body),
      // Nothing was recorded: a redelivery may try again.
      () => {
        if (this.#entries.get(id) === entry) this.#entries.delete(id);
      },
    );
    return { result: entry.result, repeated: false };
  }

  #settled(id: string, entry: Entry, body: CommandResultBody): void {
    if (this.#entries.get(id) !== entry) return;
    entry.body = body;
    entry.bytes = Buffer.byteLength(JSON.stringify(body));
    this.#resultBytes += entry.bytes;
    for (const [oldId, old] of this.#entries) {
      if (this.#resultBytes <= this.#maxResultBytes || oldId === id) break;
      if (old.body === undefined) continue;
      old.result = Promise.resolve(summary(old.body));
      old.body = undefined;
      this.#resultBytes -= old.bytes;
      old.bytes = 0;
    }
  }

  #evictOldest(): void {
    for (const [id, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries) return;
      this.#resultBytes -= entry.bytes;
      this.#entries.delete(id);
    }
  }
}

/** What is kept of an old result: enough for the server to close the command the same way. */
function summary(body: CommandResultBody): CommandResultBody {
  const short: CommandResultBody = { status: body.status, result: { resultDropped: true } };
  if (body.error !== undefined) short.error = body.error;
  return short;
}
