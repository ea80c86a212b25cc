import type { Static, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { ApiError, apiFetch } from './http.js';

export { ApiError, apiFetch, errorText, loginHref } from './http.js';

/** Checks a reply against its schema from @niro/protocol; names the first field that does not fit. */
export function checked<T extends TSchema>(schema: T, json: unknown, what: string): Static<T> {
  if (Value.Check(schema, json)) return json;
  const first = Value.Errors(schema, json)[0];
  const where = first === undefined ? '' : ` (${first.instancePath || '/'}: ${first.message})`;
  throw new ApiError(0, 'bad_reply', `The server's reply for ${what} does not have the expected shape${where}`);
}

/** GET a JSON document and check its shape. */
export async function apiGet<T extends TSchema>(path: string, schema: T): Promise<Static<T>> {
  const res = await apiFetch(path);
  return checked(schema, await res.json(), path.split('?')[0] ?? path);
}

/** POST/PATCH/PUT/DELETE with an optional JSON body; returns the parsed reply (or null for 204). */
export async function apiSend(
  method: 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<unknown> {
  const res = await apiFetch(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return null;
  const text = await res.text();
  return text === '' ? null : JSON.parse(text);
}
