import { isRecord, stringField } from './kube-object.js';

/**
 * The API server answered with an error: a non-2xx status, or an ERROR event in a watch.
 * `message` is the API's own message from its Status object. Never carries credentials.
 */
export class KubeApiError extends Error {
  override name = 'KubeApiError';

  constructor(
    /** HTTP status, or the Status `code` of a watch ERROR event (410 when a resourceVersion is too old). */
    readonly status: number,
    /** Status `reason`, e.g. Forbidden, NotFound, Expired, Gone; empty when the body was not a Status. */
    readonly reason: string,
    message: string,
    readonly method: string,
    readonly path: string,
  ) {
    super(message);
  }

  /** From a Status object (or any body) the server sent with `status`. */
  static fromBody(status: number, body: unknown, method: string, path: string): KubeApiError {
    const code = isRecord(body) && typeof body.code === 'number' && body.code > 0 ? body.code : status;
    const reason = stringField(body, 'reason') ?? '';
    let message = stringField(body, 'message');
    if (message === undefined || message === '') {
      const text = typeof body === 'string' ? body.trim().slice(0, 200) : '';
      message = `${method} ${path} answered ${code}${reason === '' ? '' : ` ${reason}`}${text === '' ? '' : `: ${text}`}`;
    }
    return new KubeApiError(code, reason, message, method, path);
  }
}

/** No usable answer: connection refused or reset, TLS failure, timeout, or a body that is not what the API sends. */
export class KubeClientError extends Error {
  override name = 'KubeClientError';
}

/** The Kubernetes connection settings are missing or unsupported; one line meant for the exit message. */
export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

export const isGone = (err: unknown): boolean => err instanceof KubeApiError && err.status === 410;
export const isForbidden = (err: unknown): boolean => err instanceof KubeApiError && err.status === 403;
