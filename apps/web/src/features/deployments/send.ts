import type { Static, TSchema } from 'typebox';
import { ApiError, checked, loginHref } from '../../lib/api.js';

export type FieldError = { field: string; message: string };

/** An API error with the fields the server named (`error.details.fields`). */
export class FormApiError extends ApiError {
  constructor(
    status: number,
    code: string,
    message: string,
    readonly fields: FieldError[],
  ) {
    super(status, code, message);
  }
}

/**
 * POST/PATCH with a JSON body, checking the reply against `schema`. Unlike apiSend, a refusal keeps
 * the server's `details.fields`, so a form can show each message next to its field.
 */
export async function sendForm<T extends TSchema>(
  method: 'POST' | 'PATCH',
  path: string,
  body: unknown,
  schema: T,
): Promise<Static<T>> {
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      body: JSON.stringify(body),
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch (err) {
    throw new ApiError(
      0,
      'network',
      `The server could not be reached (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  if (res.status === 401) {
    window.location.assign(loginHref());
    throw new ApiError(401, 'unauthorized', 'Your session has ended; signing in again…');
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  if (!res.ok) throw errorOf(res.status, json);
  return checked(schema, json, path);
}

function errorOf(status: number, json: unknown): ApiError {
  const error = isRecord(json) && isRecord(json.error) ? json.error : null;
  if (error === null || typeof error.message !== 'string') {
    return new ApiError(status, 'error', `The server answered HTTP ${status}`);
  }
  const code = typeof error.code === 'string' ? error.code : 'error';
  const details = isRecord(error.details) ? error.details : null;
  const fields: FieldError[] = [];
  if (details !== null && Array.isArray(details.fields)) {
    for (const f of details.fields) {
      if (isRecord(f) && typeof f.field === 'string' && typeof f.message === 'string') {
        fields.push({ field: f.field, message: f.message });
      }
    }
  }
  return new FormApiError(status, code, error.message, fields);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
