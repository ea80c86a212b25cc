import http from 'node:http';
import https from 'node:https';

/** Every send gives up after this long (connect, request and response together). */
export const SEND_TIMEOUT_MS = 10_000;
/** Of a receiver's reply only this much is read: enough for an error message. */
export const MAX_RESPONSE_BYTES = 16 * 1024;
/** How much of a receiver's reply is kept in an error message. */
const ERROR_BODY_CHARS = 300;

/**
 * Why a send failed, worded so it can be stored on the channel and shown by the API: it names the
 * receiver's origin, never its path or query (Slack and Discord URLs carry their token there).
 */
export class DeliveryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}

export type PostOptions = { timeoutMs?: number; maxResponseBytes?: number };

/**
 * POSTs a JSON body and resolves when the receiver answered 2xx; throws DeliveryError otherwise.
 * Redirects are not followed (a 3xx is a failure), and the reply is read up to a cap.
 */
export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string> = {},
  options: PostOptions = {},
): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  const origin = target.origin;
  const timeoutMs = options.timeoutMs ?? SEND_TIMEOUT_MS;
  const cap = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  const client = target.protocol === 'https:' ? https : http;
  const payload = Buffer.from(body, 'utf8');
  const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = client.request(target, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': String(payload.length),
        'user-agent': 'Niro-Notifications/1',
        ...headers,
      },
    });
    const timer = setTimeout(() => {
      req.destroy(new DeliveryError(`${origin} did not answer within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    const fail = (err: unknown): void => {
      clearTimeout(timer);
      reject(
        err instanceof DeliveryError
          ? err
          : new DeliveryError(`${origin}: ${describeNetworkError(err)}`, { cause: err }),
      );
    };
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (): void => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      };
      res.on('data', (chunk: Buffer) => {
        if (size >= cap) return;
        chunks.push(chunk.subarray(0, cap - size));
        size += chunk.length;
        // Enough read: stop the transfer rather than take in an endless reply.
        if (size >= cap) {
          res.destroy();
          done();
        }
      });
      res.on('end', done);
      res.on('error', fail);
    });
    req.end(payload);
  });
  if (reply.status >= 200 && reply.status < 300) return reply;
  const detail = reply.body.replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_CHARS);
  const redirect = reply.status >= 300 && reply.status < 400 ? ' (redirects are not followed)' : '';
  throw new DeliveryError(`${origin} answered HTTP ${reply.status}${redirect}${detail === '' ? '' : `: ${detail}`}`);
}

function describeNetworkError(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code === 'ECONNREFUSED' ? 'connection refused' : err.code;
  }
  return err instanceof Error ? err.message : 'request failed';
}
