import { describe, expect, it } from 'vitest';
import { MANIFEST_LIMITS, manifestErrorText, parseManifests, utf8Length } from './input.js';

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
`;

const BILLION_LAUGHS = `apiVersion: v1
kind: ConfigMap
metadata: { name: lol }
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`;

describe('parseManifests', () => {
  it('reads several documents with their document number and starting line', () => {
    const text = `${DEPLOYMENT}---\n# a comment\n\n${DEPLOYMENT.replace('web', 'api')}---\n`;
    const { objects, errors } = parseManifests(text);
    expect(errors).toEqual([]);
    expect(objects.map((o) => [o.metadata.name, o.document, o.line])).toEqual([
      ['web', 1, 1],
      ['api', 2, 11],
    ]);
    expect(objects[0]).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', spec: { replicas: 2 } });
  });

  it('reads YAML 1.1 like kubectl: octal modes and yes/no booleans, timestamps stay strings', () => {
    const { objects, errors } = parseManifests(`apiVersion: v1
kind: Pod
metadata: { name: p, annotations: { at: "x" } }
spec:
  enableServiceLinks: no
  volumes: [{ name: v, secret: { secretName: s, defaultMode: 0644 } }]
  containers: [{ name: c, image: i, env: [{ name: T, value: 2001-12-14 }] }]
`);
    expect(errors).toEqual([]);
    expect(objects[0]?.spec).toEqual({
      enableServiceLinks: false,
      volumes: [{ name: 'v', secret: { secretName: 's', defaultMode: 0o644 } }],
      containers: [{ name: 'c', image: 'i', env: [{ name: 'T', value: '2001-12-14' }] }],
    });
  });

  it('applies << merge keys', () => {
    const { objects } = parseManifests(`apiVersion: v1
kind: ConfigMap
metadata: { name: m }
base: &base { a: "1", b: "2" }
data:
  <<: *base
  b: "3"
`);
    expect(objects[0]?.data).toEqual({ a: '1', b: '3' });
  });

  it('accepts JSON, tab-indented included', () => {
    const json = JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } }, null, '\t');
    const { objects, errors } = parseManifests(json);
    expect(errors).toEqual([]);
    expect(objects.map((o) => o.kind)).toEqual(['Service']);
  });

  it('unpacks kind: List, naming the line of each item', () => {
    const { objects, errors } = parseManifests(`apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: { name: a }
  - apiVersion: v1
    kind: Service
    metadata: {}
`);
    expect(objects.map((o) => [o.metadata.name, o.line])).toEqual([['a', 4]]);
    expect(errors).toEqual([{ document: 1, line: 7, message: 'items[1]: Service: metadata.name is missing' }]);
  });

  it('names the document and line of a syntax error and keeps the other documents', () => {
    const text = `${DEPLOYMENT}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n`;
    const { objects, errors } = parseManifests(text);
    expect(objects.map((o) => o.metadata.name)).toEqual(['web']);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]?.document).toBe(2);
    expect(errors[0]?.line).toBeGreaterThanOrEqual(11);
    expect(errors[0]?.message).not.toContain('\n');
  });

  it('reports objects missing apiVersion, kind or metadata.name, and accepts any kind', () => {
    const { objects, errors } = parseManifests(`kind: Service
metadata: { name: a }
---
apiVersion: v1
metadata: { name: b }
---
apiVersion: v1
kind: Service
---
apiVersion: example.com/v1
kind: Widget
metadata: { name: w }
---
spec:
  containers: [{ name: c, image: i }]
---
- a list
---
just text
`);
    expect(objects.map((o) => o.kind)).toEqual(['Widget']);
    expect(errors.map((e) => [e.document, e.line, e.message])).toEqual([
      [1, 1, 'apiVersion is missing'],
      [2, 4, 'kind is missing'],
      [3, 7, 'Service: metadata is missing'],
      [5, 14, expect.stringContaining('bare pod template')],
      [6, 17, 'a document must be a Kubernetes object (a mapping), not a list'],
      [7, 19, 'a document must be a Kubernetes object (a mapping), not string'],
    ]);
  });

  it('refuses labels that are not strings, as the API server would', () => {
    const { objects, errors } = parseManifests(
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: { version: 1.0 }\n',
    );
    expect(objects).toEqual([]);
    expect(errors[0]?.message).toBe('Pod p: metadata.labels.version must be a string (quote it)');
  });

  it('skips empty documents and drops an empty namespace', () => {
    const { objects, errors } = parseManifests(
      '---\n---\napiVersion: v1\nkind: Service\nmetadata: { name: s, namespace: "" }\n---\n',
    );
    expect(errors).toEqual([]);
    expect(objects[0]?.metadata).toEqual({ name: 's' });
  });

  it('refuses a YAML bomb (billion laughs) quickly', () => {
    const started = performance.now();
    const { objects, errors } = parseManifests(BILLION_LAUGHS);
    const elapsed = performance.now() - started;
    // eslint-disable-next-line no-console -- a figure the issue asks for, printed rather than asserted
    console.log(`billion laughs refused in ${elapsed.toFixed(1)} ms`);
    expect(objects).toEqual([]);
    expect(errors).toEqual([{ document: 1, line: 1, message: expect.stringContaining('YAML bomb') }]);
  });

  it('refuses a document with more aliases than the limit', () => {
    const aliases = Array.from({ length: 101 }, (_, i) => `  k${i}: *v`).join('\n');
    const { errors } = parseManifests(
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: m }\nv: &v x\ndata:\n${aliases}\n`,
    );
    expect(errors[0]?.message).toContain('101 YAML aliases');
  });

  it('refuses input above 2 MiB and more than 500 documents, as a whole', () => {
    const big = parseManifests(`# ${'x'.repeat(MANIFEST_LIMITS.bytes)}\n`);
    expect(big.errors).toEqual([{ message: expect.stringContaining(`the limit is ${MANIFEST_LIMITS.bytes}`) }]);
    // Multi-byte characters count as their UTF-8 bytes.
    const wide = parseManifests(`# ${'é'.repeat(MANIFEST_LIMITS.bytes / 2)}\n`);
    expect(wide.errors[0]?.message).toContain('the limit is');
    const most = parseManifests('apiVersion: v1\nkind: Service\nmetadata: { name: s }\n---\n'.repeat(500));
    expect(most.errors).toEqual([]);
    const many = parseManifests('apiVersion: v1\nkind: Service\nmetadata: { name: s }\n---\n'.repeat(501));
    expect(many.objects).toEqual([]);
    expect(many.errors).toEqual([{ message: 'the manifests hold 501 documents; the limit is 500' }]);
  });

  it('never throws, even on nesting deep enough to exhaust a recursive reader', () => {
    const deep = `${'['.repeat(20000)}${']'.repeat(20000)}`;
    const result = parseManifests(deep);
    expect(result.objects).toEqual([]);
    expect(result.errors.length).toBeGreaterThan(0);
  });
});

describe('manifestErrorText', () => {
  it('prefixes the document and line when known', () => {
    expect(manifestErrorText({ document: 3, line: 12, message: 'kind is missing' })).toBe(
      'document 3, line 12: kind is missing',
    );
    expect(manifestErrorText({ message: 'too big' })).toBe('too big');
  });
});

describe('utf8Length', () => {
  it('counts UTF-8 bytes', () => {
    expect(utf8Length('aé€😀')).toBe(1 + 2 + 3 + 4);
  });
});
