import type { Readable } from 'node:stream';

/**
 * The agent's view of the Kubernetes API. Everything in the agent goes through `KubeClient`
 * (kube-client.ts); objects stay `unknown` until a converter has checked their shape.
 */

export type Query = Record<string, string | number | boolean | undefined>;

export type RequestOptions = {
  query?: Query;
  /** JSON-serialisable body. */
  body?: unknown;
  /** Defaults to application/json when there is a body (apply-patch+yaml etc. later). */
  contentType?: string;
  signal?: AbortSignal;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
};

export type ListOptions = {
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; pages are followed with `continue` until the end. */
  limit?: number;
  signal?: AbortSignal;
  /**
   * When set, each page's items go here as they arrive and the result's `items` stays empty, so a
   * caller that converts objects holds one raw page at a time instead of the whole collection.
   */
  onPage?: (items: unknown[]) => void;
};

export type ListResult = { items: unknown[]; resourceVersion: string };

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export type WatchOptions = {
  resourceVersion: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Server-side timeout of one watch request; default 5–10 min with jitter. */
  timeoutSeconds?: number;
  signal?: AbortSignal;
};

export type StreamOptions = {
  query?: Query;
  /** Aborting ends the request, before or after the answer started (the body then errors). */
  signal?: AbortSignal;
  /** Until the status line and headers arrive; the body may then run for as long as it runs. Default 30 s. */
  timeoutMs?: number;
};

/** A function the agent uses to talk to the API server; implemented by KubeClient. */
export interface KubeApi {
  /** `https://host:port` of the API server. */
  readonly server: string;
  /** JSON request; resolves with the parsed body; non-2xx rejects with KubeApiError. */
  request(method: string, path: string, options?: RequestOptions): Promise<unknown>;
  /** A whole collection, following `continue` pages. */
  list(path: string, options?: ListOptions): Promise<ListResult>;
  /**
   * One watch request. Calls `onEvent` per event (BOOKMARK included, with the bookmark object)
   * and resolves when the server ends the stream; rejects with KubeApiError on an ERROR event
   * (410 Gone when the resourceVersion is too old) or a non-2xx answer.
   */
  watch(path: string, options: WatchOptions, onEvent: (type: WatchEventType, object: unknown) => void): Promise<void>;
  /**
   * A GET whose body is read as it arrives (pod logs): resolves with the body once a 2xx status
   * has arrived; pausing it pauses the read from the socket, so the API server is slowed by TCP
   * back-pressure. A non-2xx answer rejects with KubeApiError. Redirects are not followed.
   */
  stream(path: string, options?: StreamOptions): Promise<Readable>;
  close(): void;
}
