import { readFileSync } from 'node:fs';
import { KubeConfigError } from './kube-errors.js';

/** Re-read bound service-account tokens this often: the kubelet rotates them well before they expire. */
export const TOKEN_REFRESH_MS = 60_000;

/**
 * A bearer token. The value sits in a private field so that logging a config object cannot print it.
 */
export interface BearerToken {
  current(): string;
  /** The server said 401: read the source again on the next request. */
  invalidate(): void;
}

export class StaticToken implements BearerToken {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  current(): string {
    return this.#value;
  }

  invalidate(): void {}
}

/**
 * A token file (a pod's projected service-account token, or a kubeconfig `tokenFile`), read when
 * created and again when `refreshMs` has passed or after a 401. A failed re-read keeps the last
 * good token, as the kubelet may be swapping the file at that moment.
 */
export class FileToken implements BearerToken {
  #value: string;
  #readAtMs: number;

  constructor(
    readonly path: string,
    private readonly refreshMs: number = TOKEN_REFRESH_MS,
    private readonly now: () => number = Date.now,
  ) {
    const value = this.#read();
    if (value === undefined) throw new KubeConfigError(`cannot read the token file ${path} (or it is empty)`);
    this.#value = value;
    this.#readAtMs = now();
  }

  current(): string {
    if (this.now() - this.#readAtMs >= this.refreshMs) {
      this.#value = this.#read() ?? this.#value;
      this.#readAtMs = this.now();
    }
    return this.#value;
  }

  invalidate(): void {
    this.#readAtMs = Number.NEGATIVE_INFINITY;
  }

  #read(): string | undefined {
    try {
      const value = readFileSync(this.path, 'utf8').trim();
      return value === '' ? undefined : value;
    } catch {
      return undefined;
    }
  }
}
