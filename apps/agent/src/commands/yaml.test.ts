import { describe, expect, it } from 'vitest';
import { billionLaughs } from './test-support/commands.js';
import { manifestErrorText, parseManifests } from './yaml.js';

describe('parseManifests', () => {
  it('reads every object of a multi-document set with its document and line, skipping empty documents', async () => {
    const text = [
      '# a comment before anything',
      'apiVersion: v1',
      'kind: Namespace',
      'metadata:',
      '  name: shop',
      '---',
      '---',
      '# only a comment',
      '---',
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata:',
      '  name: settings',
      '  namespace: shop',
      'data:',
      '  mode: "fast"',
      '',
    ].join('\n');
    const { objects, errors } = await parseManifests(text);
    expect(errors).toEqual([]);
    expect(
      objects.map(({ document, line, kind, name, namespace }) => ({ document, line, kind, name, namespace })),
    ).toEqual([
      { document: 1, line: 2, kind: 'Namespace', name: 'shop', namespace: undefined },
      { document: 4, line: 10, kind: 'ConfigMap', name: 'settings', namespace: 'shop' },
    ]);
    expect(objects[1]?.body).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: 'shop' },
      data: { mode: 'fast' },
    });
  });

  it('reads JSON and unpacks a List', async () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'one' } },
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'two' }, stringData: { k: 'v' } },
      ],
    };
    const { objects, errors } = await parseManifests(JSON.stringify(list, null, 2));
    expect(errors).toEqual([]);
    expect(objects.map((o) => `${o.kind}/${o.name}`)).toEqual(['ConfigMap/one', 'Secret/two']);
  });

  it('reads values as kubectl does: octal file modes, yes/no booleans, dates as text', async () => {
    const text = [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: p, annotations: {released: 2024-01-31}}',
      'spec:',
      '  automountServiceAccountToken: no',
      '  volumes: [{name: v, secret: {secretName: s, defaultMode: 0644}}]',
    ].join('\n');
    const { objects } = await parseManifests(text);
    expect(objects[0]?.body).toMatchObject({
      metadata: { annotations: { released: '2024-01-31' } },
      spec: { automountServiceAccountToken: false, volumes: [{ secret: { defaultMode: 0o644 } }] },
    });
  });

  it('names the document and line of every object that lacks apiVersion, kind or metadata.name, and returns none', async () => {
    const text = [
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata: {name: fine}',
      '---',
      'kind: ConfigMap',
      'metadata: {name: no-version}',
      '---',
      'apiVersion: v1',
      'metadata: {name: no-kind}',
      '---',
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata: {labels: {a: b}}',
      '---',
      '- just',
      '- a list',
    ].join('\n');
    const { objects, errors } = await parseManifests(text);
    expect(objects).toEqual([]);
    expect(errors).toEqual([
      { document: 2, line: 5, message: 'apiVersion is missing' },
      { document: 3, line: 8, message: 'kind is missing' },
      { document: 4, line: 11, message: 'ConfigMap: metadata.name is missing' },
      { document: 5, line: 15, message: 'a document must be a Kubernetes object (a mapping), not a list' },
    ]);
    expect(errors.map(manifestErrorText)[0]).toBe('document 2, line 5: apiVersion is missing');
  });

  it('reports a syntax error at its line without the source excerpt', async () => {
    const text = [
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata: {name: a}',
      '---',
      'apiVersion: v1',
      'data: [1, 2',
      '',
    ].join('\n');
    const { objects, errors } = await parseManifests(text);
    expect(objects).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ document: 2, line: expect.any(Number) });
    expect(errors[0]?.line).toBeGreaterThanOrEqual(6);
    expect(errors[0]?.message).toMatch(/flow sequence/i);
    expect(errors[0]?.message).not.toContain('\n');
  });

  it('refuses a billion-laughs YAML bomb instead of expanding it', async () => {
    const { objects, errors } = await parseManifests(billionLaughs());
    expect(objects).toEqual([]);
    expect(errors).toEqual([
      { document: 1, line: 1, message: 'refused: its aliases would expand it exponentially (a YAML bomb)' },
    ]);
  });

  it('refuses a document with more aliases than the limit', async () => {
    const refs = Array.from({ length: 101 }, (_, i) => `  k${i}: *v`).join('\n');
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: many}\nx: &v "1"\ndata:\n${refs}\n`;
    const { errors } = await parseManifests(text);
    expect(errors).toEqual([
      { document: 1, line: 1, message: '101 YAML aliases; more than 100 are refused as a possible YAML bomb' },
    ]);
  });

  it('refuses oversized input and too many documents as a whole', async () => {
    const limits = { bytes: 1000, documents: 3, aliases: 100 };
    const big = await parseManifests(
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {x: "${'x'.repeat(1000)}"}`,
      limits,
    );
    expect(big).toEqual({ objects: [], errors: [{ message: expect.stringMatching(/bytes; the limit is 1000$/) }] });
    const many = await parseManifests(Array.from({ length: 4 }, (_, i) => `kind: A\nn: ${i}`).join('\n---\n'), limits);
    expect(many).toEqual({ objects: [], errors: [{ message: 'the manifests hold 4 documents; the limit is 3' }] });
  });
});
