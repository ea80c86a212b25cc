import type { CommandError, CommandResultBody, ObjectResult } from '@niro/protocol';
import { KubeApiError, KubeClientError } from '../kube/kube-errors.js';
import { manifestErrorText, type ManifestError } from './yaml.js';

export type ResultStatus = CommandResultBody['status'];
export type ObjectAction = ObjectResult['action'];

/** What a command produced, before it is shaped into a result that fits the size limit. */
export type Outcome = {
  status: ResultStatus;
  error?: CommandError;
  objects?: ObjectResult[];
  errors?: ManifestError[];
  /** Further result fields (ping, self-update). */
  data?: Record<string, unknown>;
};

/** The protocol's field limits (ObjectResult, CommandError). */
const MESSAGE_CHARS = 4096;
const CODE_CHARS = 128;
const FIELD_CHARS = 1024;
const MAX_FIELDS = 256;
/** What a message or field list shrinks to when the whole result is too large. */
const SHORT_MESSAGE_CHARS = 256;
const SHORT_FIELDS = 16;

export const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

export function objectResult(
  ref: { kind: string; namespace?: string | undefined; name: string },
  action: ObjectAction,
  message?: string,
  fields?: string[],
): ObjectResult {
  const result: ObjectResult = { kind: ref.kind, name: ref.name, action };
  if (ref.namespace !== undefined) result.namespace = ref.namespace;
  if (message !== undefined) result.message = clip(message, MESSAGE_CHARS);
  if (fields !== undefined) result.fields = fields.slice(0, MAX_FIELDS).map((f) => clip(f, FIELD_CHARS));
  return result;
}

/** succeeded when nothing failed, failed when everything did, partial in between. */
export function statusOf(objects: readonly ObjectResult[]): ResultStatus {
  const failed = objects.filter((o) => o.action === 'failed').length;
  if (failed === 0) return 'succeeded';
  return failed === objects.length ? 'failed' : 'partial';
}

export function objectsOutcome(objects: ObjectResult[]): Outcome {
  const status = statusOf(objects);
  if (status === 'succeeded') return { status, objects };
  const failed = objects.filter((o) => o.action === 'failed').length;
  return {
    status,
    objects,
    error: failure('objects_failed', `${failed} of ${objects.length} objects failed`),
  };
}

export function failure(code: string, message: string): CommandError {
  return { code: clip(code, CODE_CHARS), message: clip(message, MESSAGE_CHARS) };
}

/** Nothing was applied because the manifests could not be read. */
export function manifestOutcome(errors: ManifestError[]): Outcome {
  const first = errors[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return {
    status: 'failed',
    errors,
    error: failure('invalid_manifest', `${first === undefined ? 'no objects' : manifestErrorText(first)}${more}`),
  };
}

/** The API's own message for API errors; a short description otherwise. Never includes credentials. */
export function errorText(err: unknown): string {
  if (err instanceof KubeApiError || err instanceof KubeClientError) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

const byteSize = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

/**
 * The result body, under `limitBytes` as JSON: messages and field lists are shortened first, then
 * the last objects are left out (`omittedObjects` says how many).
 */
export function toResultBody(outcome: Outcome, limitBytes: number): CommandResultBody {
  const body = assemble(outcome, outcome.objects, outcome.errors);
  if (byteSize(body) <= limitBytes) return body;
  const objects = outcome.objects?.map(shorten);
  const errors = outcome.errors?.map((e) => ({ ...e, message: clip(e.message, SHORT_MESSAGE_CHARS) }));
  let shortened = assemble(outcome, objects, errors);
  let keepObjects = objects?.length ?? 0;
  let keepErrors = errors?.length ?? 0;
  while (byteSize(shortened) > limitBytes && keepObjects + keepErrors > 0) {
    // Halving keeps the number of re-measurements small for large sets.
    if (keepObjects > 0) keepObjects = Math.floor(keepObjects / 2);
    else keepErrors = Math.floor(keepErrors / 2);
    shortened = assemble(outcome, objects?.slice(0, keepObjects), errors?.slice(0, keepErrors));
    const result = shortened.result ?? {};
    if (objects !== undefined) result.omittedObjects = objects.length - keepObjects;
    if (errors !== undefined) result.omittedErrors = errors.length - keepErrors;
    shortened.result = result;
  }
  return shortened;
}

function assemble(
  outcome: Outcome,
  objects: ObjectResult[] | undefined,
  errors: ManifestError[] | undefined,
): CommandResultBody {
  const body: CommandResultBody = { status: outcome.status };
  const result: Record<string, unknown> = { ...outcome.data };
  if (objects !== undefined) result.objects = objects;
  if (errors !== undefined) result.errors = errors;
  if (Object.keys(result).length > 0) body.result = result;
  if (outcome.error !== undefined) body.error = outcome.error;
  return body;
}

function shorten(o: ObjectResult): ObjectResult {
  const short: ObjectResult = { ...o };
  if (o.message !== undefined) short.message = clip(o.message, SHORT_MESSAGE_CHARS);
  if (o.fields !== undefined) short.fields = o.fields.slice(0, SHORT_FIELDS);
  return short;
}
