import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../apps/server/src/test-support/app.js';

/**
 * The OpenAPI document at /api/openapi.json is the reference users generate clients from
 * (docs/api.md), so it must describe every route the server really has under /api/v1 and
 * /api/agent/v1, with a summary, a tag, a documented success reply and a schema for each body.
 * The document does not depend on the database, so this runs on SQLite only.
 */
describe('OpenAPI document', () => {
  let t: TestApp;
  let doc: OpenApiDoc;
  let ops: Operation[];

  beforeAll(async () => {
    t = await createTestApp('sqlite');
    const res = await t.app.inject({ method: 'GET', url: '/api/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = readDoc(res.json());
    ops = operationsOf(doc);
  });

  afterAll(async () => {
    await t.dispose();
  });

  it('is OpenAPI 3.1 and lists exactly the routes the server registers under /api/v1 and /api/agent/v1', () => {
    expect(doc.openapi).toBe('3.1.0');
    const registered = registeredRoutes(t.app.printRoutes({ commonPrefix: false }))
      .filter((r) => r.path.startsWith('/api/v1/') || r.path.startsWith('/api/agent/v1/'))
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`)
      .sort();
    // The parser must have found the routes this test knows exist, or the comparison proves nothing.
    expect(registered).toEqual(
      expect.arrayContaining(['POST /api/agent/v1/heartbeat', 'DELETE /api/v1/tokens/{id}', 'GET /api/v1/fleet']),
    );
    expect(ops.map((o) => o.key).sort()).toEqual(registered);
  });

  it('gives every operation a summary and a tag', () => {
    const missing = ops
      .filter((o) => typeof o.op.summary !== 'string' || o.op.summary.trim() === '' || !hasTag(o.op.tags))
      .map((o) => o.key);
    expect(missing, 'operations without summary or tag').toEqual([]);
  });

  it('documents at least one 2xx reply of every operation', () => {
    // Without a response schema, @fastify/swagger invents `200: { description: 'Default Response' }`.
    const undocumented = ops.filter((o) => !documentsSuccess(o.op.responses)).map((o) => o.key);
    expect(undocumented, 'operations whose success reply is not documented').toEqual([]);
  });

  it('gives every request body a JSON object schema, and only named operations take no body', () => {
    const noBody = new Set([
      'POST /api/v1/auth/logout',
      'POST /api/v1/clusters/{id}/enrollment-token',
      'POST /api/v1/commands/{id}/cancel',
      'POST /api/agent/v1/commands/{id}/ack',
      'POST /api/v1/notification-channels/{id}/test',
      'POST /api/v1/registries/{id}/verify',
      'POST /api/v1/deployments/{id}/unmanage',
      'POST /api/v1/deployments/{id}/diff',
    ]);
    const problems: string[] = [];
    for (const o of ops) {
      const body = o.op.requestBody;
      if (body === undefined) {
        if (['POST', 'PUT', 'PATCH'].includes(o.method) && !noBody.has(o.key))
          problems.push(`${o.key}: no body schema`);
        continue;
      }
      const schema = body.content?.['application/json']?.schema;
      if (schema?.type !== 'object' || schema.properties === undefined) {
        problems.push(`${o.key}: body is not a JSON object schema`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('declares the path parameters of every operation', () => {
    const problems: string[] = [];
    for (const o of ops) {
      const declared = (o.op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      const inPath = [...o.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      if (declared.sort().join() !== inPath.sort().join()) problems.push(o.key);
    }
    expect(problems, 'operations whose path parameters do not match their path').toEqual([]);
  });

  it('marks which credential each operation takes: agent keys only on the agent API', () => {
    const publicOps = new Set([
      'GET /api/v1/setup',
      'POST /api/v1/setup',
      'POST /api/v1/auth/login',
      'POST /api/v1/auth/token',
      'POST /api/agent/v1/enroll',
      'GET /api/v1/invitations/{token}',
      'POST /api/v1/invitations/{token}/accept',
    ]);
    const schemes = Object.keys(doc.components?.securitySchemes ?? {});
    expect(schemes.sort()).toEqual(['bearer', 'session']);
    const problems: string[] = [];
    for (const o of ops) {
      const used = (o.op.security ?? []).flatMap((s) => Object.keys(s));
      if (publicOps.has(o.key)) {
        if (used.length > 0) problems.push(`${o.key}: public but declares ${used.join(', ')}`);
      } else if (used.length === 0) {
        problems.push(`${o.key}: declares no credential`);
      } else if (o.path.startsWith('/api/agent/') && used.includes('session')) {
        problems.push(`${o.key}: an agent endpoint must not accept the browser session`);
      }
      for (const s of used) if (!schemes.includes(s)) problems.push(`${o.key}: unknown security scheme ${s}`);
    }
    expect(problems).toEqual([]);
  });
});

const Responses = Type.Record(
  Type.String(),
  Type.Object({ description: Type.Optional(Type.String()), content: Type.Optional(Type.Unknown()) }),
);
const OpenApiOperation = Type.Object({
  summary: Type.Optional(Type.String()),
  tags: Type.Optional(Type.Unknown()),
  parameters: Type.Optional(Type.Array(Type.Object({ in: Type.String(), name: Type.String() }))),
  security: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
  requestBody: Type.Optional(
    Type.Object({
      content: Type.Optional(
        Type.Record(
          Type.String(),
          Type.Object({
            schema: Type.Optional(
              Type.Object({ type: Type.Optional(Type.String()), properties: Type.Optional(Type.Unknown()) }),
            ),
          }),
        ),
      ),
    }),
  ),
  responses: Type.Optional(Responses),
});
type OpenApiOperation = Static<typeof OpenApiOperation>;
const OpenApiDoc = Type.Object({
  openapi: Type.String(),
  paths: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown())),
  components: Type.Optional(
    Type.Object({ securitySchemes: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }),
  ),
});
type OpenApiDoc = Static<typeof OpenApiDoc>;
type Operation = { method: string; path: string; key: string; op: OpenApiOperation };

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

function readDoc(value: unknown): OpenApiDoc {
  if (!Value.Check(OpenApiDoc, value)) throw new Error('/api/openapi.json is not an OpenAPI document');
  return value;
}

function operationsOf(doc: OpenApiDoc): Operation[] {
  return Object.entries(doc.paths).flatMap(([p, item]) =>
    Object.entries(item)
      .filter(([m]) => HTTP_METHODS.has(m))
      .map(([m, op]) => {
        const key = `${m.toUpperCase()} ${p}`;
        if (!Value.Check(OpenApiOperation, op)) throw new Error(`${key} is not an OpenAPI operation`);
        return { method: m.toUpperCase(), path: p, key, op };
      }),
  );
}

function hasTag(tags: unknown): boolean {
  return Array.isArray(tags) && tags.length > 0 && tags.every((t) => typeof t === 'string' && t.trim() !== '');
}

function documentsSuccess(responses: OpenApiOperation['responses']): boolean {
  return Object.entries(responses ?? {}).some(
    ([status, r]) => /^2\d\d$/.test(status) && (r.content !== undefined || r.description !== 'Default Response'),
  );
}

/**
 * Method + path of every route, read from Fastify's route tree (`printRoutes({ commonPrefix:
 * false })`): each line is a path segment appended to its parent's, indented four characters
 * per level, with the methods in parentheses. HEAD routes Fastify adds to GETs are left out.
 */
function registeredRoutes(tree: string): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (m === null) continue;
    const depth = (m[1] ?? '').length / 4;
    stack.length = depth;
    const full = (stack[depth - 1] ?? '') + (m[2] ?? '');
    stack.push(full);
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim())) {
      if (method !== '' && method !== 'HEAD') routes.push({ method, path: full });
    }
  }
  return routes;
}
