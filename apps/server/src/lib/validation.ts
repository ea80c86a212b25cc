import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { createRequire } from 'node:module';
import type { FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS whose typings only describe `.default`; require gives the function.
const addFormats = createRequire(import.meta.url)('ajv-formats') as (ajv: Ajv) => Ajv;

function makeAjv(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes,
    // Unknown fields in request bodies are errors (schemas say where they are allowed), never
    // silently dropped; types are never coerced in bodies, so "1" is not a number.
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

/** Bodies are validated strictly; querystrings and params coerce strings to the declared types. */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = makeAjv(false);
  const coercing = makeAjv(true);
  const cache = new WeakMap<object, ValidateFunction>();
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strict : coercing;
    const key = schema as object;
    let fn = httpPart === 'body' ? cache.get(key) : undefined;
    if (fn === undefined) {
      fn = ajv.compile(schema as object);
      if (httpPart === 'body') cache.set(key, fn);
    }
    const validate = fn;
    return (data: unknown) =>
      validate(data) ? { value: data } : { error: validationError(validate.errors ?? [], httpPart ?? 'body') };
  };
}

export type FieldError = { field: string; message: string };

export class RequestValidationError extends Error {
  readonly statusCode = 400;
  readonly code = 'invalid_request';
  constructor(readonly fields: FieldError[]) {
    super(fields.map((f) => `${f.field}: ${f.message}`).join('; '));
    this.name = 'RequestValidationError';
  }
}

function validationError(errors: ErrorObject[], part: string): RequestValidationError {
  // A union of literals fails as one `anyOf` plus a `const` error per branch: say it once.
  const anyOf = errors.find((e) => e.keyword === 'anyOf');
  if (anyOf !== undefined) {
    const consts = errors.filter((e) => e.keyword === 'const' && e.instancePath === anyOf.instancePath);
    if (consts.length > 0 && consts.length === errors.length - 1) {
      const allowed = consts.map((e) => (e.params as { allowedValue?: unknown }).allowedValue);
      return new RequestValidationError([
        { ...describe(anyOf, part), message: `must be one of ${JSON.stringify(allowed)}` },
      ]);
    }
  }
  const specific = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  return new RequestValidationError(
    (specific.length > 0 ? specific : errors).slice(0, 5).map((e) => describe(e, part)),
  );
}

function describe(e: ErrorObject, part: string): FieldError {
  const base = part + e.instancePath.replace(/\//g, '.').replace(/\.(\d+)(?=\.|$)/g, '[$1]');
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { field: `${base}.${String(p.additionalProperty)}`, message: 'is not a known field' };
    case 'required':
      return { field: `${base}.${String(p.missingProperty)}`, message: 'is required' };
    case 'enum':
    case 'const':
      return { field: base, message: `must be one of ${JSON.stringify(p.allowedValues ?? p.allowedValue)}` };
    default:
      return { field: base, message: e.message ?? 'is invalid' };
  }
}

/** A plain JSON object (not null, not an array). */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
