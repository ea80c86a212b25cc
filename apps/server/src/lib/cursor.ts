import { BadRequestError } from '../errors.js';

/**
 * Keyset pagination cursors: the last row's sort number (a rank, a time) and id, as base64url
 * JSON. Opaque to clients; a cursor that is not one of ours is a 400 naming the parameter.
 */
export function encodeCursor(sortValue: number, id: string): string {
  return Buffer.from(JSON.stringify([sortValue, id])).toString('base64url');
}

export function decodeCursor(cursor: string): readonly [number, string] {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (Array.isArray(v) && v.length === 2) {
    const [sortValue, id]: unknown[] = v;
    if (typeof sortValue === 'number' && Number.isInteger(sortValue) && typeof id === 'string') return [sortValue, id];
  }
  throw new BadRequestError('invalid_request', 'Invalid request: querystring.cursor: is not a cursor from this API', {
    fields: [{ field: 'querystring.cursor', message: 'is not a cursor from this API' }],
  });
}
