import type { Logger } from './logger.js';

/** Capped exponential backoff with full jitter: uniform in [0, min(cap, base·2^attempt)]. */
export function fullJitterDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * Logs a condition once when it starts and once when it ends, however many times it repeats in
 * between: a Niro server that is down for an hour gives two log lines, not 240.
 */
export class StateLog {
  private state: string | null = null;
  private since = 0;
  private failures = 0;

  constructor(
    private readonly logger: Logger,
    private readonly subject: string,
    private readonly now: () => number = Date.now,
  ) {}

  get current(): string | null {
    return this.state;
  }

  failed(state: string, message: string, fields: Record<string, unknown> = {}): void {
    this.failures += 1;
    if (state === this.state) return;
    if (this.state === null) this.since = this.now();
    this.state = state;
    this.logger.warn({ ...fields, state }, `${this.subject}: ${message}`);
  }

  ok(message: string): void {
    if (this.state === null) return;
    const seconds = Math.round((this.now() - this.since) / 1000);
    this.logger.info({ failures: this.failures, seconds }, `${this.subject}: ${message}`);
    this.state = null;
    this.failures = 0;
  }
}

/** A sleep that `stop()` cuts short. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
