import { createGunzip } from 'node:zlib';
import { PassThrough, type Readable } from 'node:stream';
import { NiroError } from '../errors.js';

type DecodedStream = PassThrough & { receivedEncodedLength: number };

/**
 * Request bodies may be gzipped (`Content-Encoding: gzip`, DESIGN 3). Decompression is streamed
 * and stops as soon as the decompressed size passes `limitBytes` (a gzip bomb costs only what it
 * sent); a truncated or corrupt stream is a 400 naming the problem.
 */
export function decodeRequestBody(
  payload: Readable,
  contentEncoding: string | undefined,
  limitBytes: number,
): Readable {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return payload;
  if (encoding !== 'gzip' && encoding !== 'x-gzip') {
    throw new NiroError(
      415,
      'unsupported_content_encoding',
      `Content-Encoding "${encoding}" is not supported; send gzip or no encoding`,
    );
  }
  const out = new PassThrough() as DecodedStream;
  out.receivedEncodedLength = 0;
  const gunzip = createGunzip();
  let decodedBytes = 0;
  const fail = (err: NiroError): void => {
    payload.unpipe(gunzip);
    gunzip.destroy();
    out.destroy(err);
  };
  payload.on('data', (chunk: Buffer) => {
    // Fastify compares this with Content-Length, which counts the compressed bytes.
    out.receivedEncodedLength += chunk.length;
  });
  gunzip.on('data', (chunk: Buffer) => {
    decodedBytes += chunk.length;
    if (decodedBytes > limitBytes) {
      fail(new NiroError(413, 'body_too_large', `The decompressed request body exceeds the ${limitBytes}-byte limit`));
    }
  });
  gunzip.on('error', (cause) =>
    fail(
      new NiroError(
        400,
        'invalid_gzip',
        `The gzip request body could not be decompressed: ${cause.message}`,
        undefined,
        { cause },
      ),
    ),
  );
  payload.on('error', (cause) =>
    fail(new NiroError(400, 'invalid_body', 'The request body could not be read', undefined, { cause })),
  );
  payload.pipe(gunzip).pipe(out);
  return out;
}
