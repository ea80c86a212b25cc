import { isDeepStrictEqual } from 'node:util';
import { objectKey, resourceVersionOf } from './kube-object.js';
import type { WatchEventType } from './types.js';

export type Converter<T> = (obj: unknown) => { key: string; value: T } | null;

/** What the reflector's loop needs from its cache; free of T, so `Reflector<X>` is a `Reflector<unknown>`. */
export interface ObjectSink {
  /** Collects a full list; `commit` makes it the cache's content, reporting only the differences. */
  beginRelist(): { add(items: unknown[]): void; commit(): void };
  /** Applies one watch event; returns the object's resourceVersion when it has one. */
  apply(type: WatchEventType, object: unknown): string | undefined;
}

/**
 * Converted objects by key. `onChange` hears of every key whose value changed (by `equals`) or
 * went away, whether through a watch event or a relist.
 */
export class KeyedCache<T> implements ObjectSink {
  readonly entries = new Map<string, T>();

  constructor(
    private readonly convert: Converter<T>,
    private readonly onChange: ((key: string, value: T | undefined) => void) | undefined,
    private readonly equals: (a: T, b: T) => boolean = isDeepStrictEqual,
  ) {}

  beginRelist(): { add(items: unknown[]): void; commit(): void } {
    const fresh = new Map<string, T>();
    return {
      add: (items) => {
        for (const item of items) {
          const converted = this.convert(item);
          if (converted !== null) fresh.set(converted.key, converted.value);
        }
      },
      commit: () => {
        for (const key of [...this.entries.keys()]) if (!fresh.has(key)) this.#remove(key);
        for (const [key, value] of fresh) this.#put(key, value);
      },
    };
  }

  apply(type: WatchEventType, object: unknown): string | undefined {
    const version = resourceVersionOf(object) || undefined;
    if (type === 'BOOKMARK') return version;
    const converted = this.convert(object);
    if (type === 'DELETED' || converted === null) {
      // A dropped object may have been kept before (a filter on a field that changed).
      const key = converted?.key ?? objectKey(object);
      if (key !== null) this.#remove(key);
    } else {
      this.#put(converted.key, converted.value);
    }
    return version;
  }

  #put(key: string, value: T): void {
    if (this.entries.has(key)) {
      const old = this.entries.get(key);
      if (old !== undefined && this.equals(old, value)) return;
    }
    this.entries.set(key, value);
    this.onChange?.(key, value);
  }

  #remove(key: string): void {
    if (this.entries.delete(key)) this.onChange?.(key, undefined);
  }
}
