import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateYaml, parseManifests } from '@niro/policy';
import { DEPLOYMENT_ID_LABEL, DeploymentForm, validateDeploymentForm } from '@niro/protocol';
import { Compile } from 'typebox/compile';
import { describe, expect, it } from 'vitest';
import { buildManifests, DEFAULT_FORM, type BuildOptions } from './index.js';

const GOLDEN_DIR = join(fileURLToPath(new URL('.', import.meta.url)), 'golden');
const UPDATE = process.env.NIRO_UPDATE_GOLDEN === '1';
const checkForm = Compile(DeploymentForm);

/** The options each golden form is built with; the full form also gets a registry pull Secret. */
const GOLDEN_OPTIONS: Record<string, BuildOptions> = {
  minimal: { namespace: 'default' },
  full: { namespace: 'shop', imagePullSecretName: 'niro-registry-reg-01' },
  hpa: { namespace: 'api' },
  'ingress-tls': { namespace: 'blog' },
  'secret-env': { namespace: 'workers' },
};

function loadForm(name: string): DeploymentForm {
  const value: unknown = JSON.parse(readFileSync(join(GOLDEN_DIR, `${name}.form.json`), 'utf8'));
  if (!checkForm.Check(value)) {
    throw new Error(`${name}.form.json does not match the schema: ${JSON.stringify([...checkForm.Errors(value)])}`);
  }
  return value;
}

function optionsFor(name: string): BuildOptions {
  const options = GOLDEN_OPTIONS[name];
  if (options === undefined) throw new Error(`no options for golden form ${name}`);
  return options;
}

/** The same value with every object's keys in reverse order. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([key, inner]) => [key, reversedKeys(inner)]),
  );
}

/** Paths of empty objects, empty arrays and nulls anywhere in `value`. */
function emptyPaths(value: unknown, path = ''): string[] {
  if (value === null) return [path];
  if (Array.isArray(value)) {
    return value.length === 0 ? [path] : value.flatMap((inner, i) => emptyPaths(inner, `${path}[${i}]`));
  }
  if (typeof value !== 'object') return [];
  const entries = Object.entries(value);
  return entries.length === 0 ? [path] : entries.flatMap(([key, inner]) => emptyPaths(inner, `${path}.${key}`));
}

function record(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
  return Object.fromEntries(Object.entries(value));
}

function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = record(current)[key];
  return current;
}

const goldenNames = readdirSync(GOLDEN_DIR)
  .filter((file) => file.endsWith('.form.json'))
  .map((file) => file.slice(0, -'.form.json'.length))
  .sort();

describe('golden manifests', () => {
  it('covers the minimal, full, HPA, ingress with TLS and secret env forms', () => {
    expect(goldenNames).toEqual(['full', 'hpa', 'ingress-tls', 'minimal', 'secret-env']);
  });

  for (const name of goldenNames) {
    it(`${name}.form.json builds ${name}.yaml byte for byte`, () => {
      const form = loadForm(name);
      expect(validateDeploymentForm(form)).toEqual([]);
      const { yaml } = buildManifests(form, optionsFor(name));
      const goldenPath = join(GOLDEN_DIR, `${name}.yaml`);
      if (UPDATE) writeFileSync(goldenPath, yaml);
      expect(yaml, `regenerate with NIRO_UPDATE_GOLDEN=1 if the change is intended`).toBe(
        readFileSync(goldenPath, 'utf8'),
      );
    });
  }
});

describe('buildManifests', () => {
  it('gives byte-identical YAML for the same form, whatever the key order of its objects', () => {
    for (const name of goldenNames) {
      const form = loadForm(name);
      const first = buildManifests(form, optionsFor(name)).yaml;
      expect(buildManifests(form, optionsFor(name)).yaml).toBe(first);
      const shuffled = reversedKeys(form);
      if (!checkForm.Check(shuffled)) throw new Error('the reordered form no longer matches the schema');
      expect(buildManifests(shuffled, optionsFor(name)).yaml).toBe(first);
    }
  });

  it('writes YAML that reads back (as kubectl reads it) as exactly the returned objects', () => {
    for (const name of goldenNames) {
      const { yaml, objects } = buildManifests(loadForm(name), optionsFor(name));
      const parsed = parseManifests(yaml);
      expect(parsed.errors).toEqual([]);
      expect(parsed.objects.map(({ document: _document, line: _line, ...object }) => object)).toEqual(objects);
    }
  });

  it('keeps strings that YAML 1.1 or 1.2 would read as booleans or numbers as strings', () => {
    const { yaml, objects } = buildManifests(loadForm('full'), optionsFor('full'));
    expect(yaml).toContain('value: "yes"');
    expect(yaml).toContain('value: "0644"');
    expect(yaml).toContain('value: "0o14"');
    const env = field(objects[0], 'spec', 'template', 'spec');
    expect(JSON.stringify(env)).toContain('{"name":"FEATURE_FLAG","value":"yes"}');
  });

  it('orders the objects Deployment, Service, Ingress, PVCs, HPA, all in the namespace and labelled', () => {
    const { objects, yaml } = buildManifests(loadForm('full'), optionsFor('full'));
    expect(objects.map((object) => `${String(object.kind)}/${String(field(object, 'metadata', 'name'))}`)).toEqual([
      'Deployment/shop',
      'Service/shop',
      'Ingress/shop',
      'PersistentVolumeClaim/shop-data',
      'PersistentVolumeClaim/shop-uploads',
      'HorizontalPodAutoscaler/shop',
    ]);
    expect(yaml.split(/^---\n/m)).toHaveLength(objects.length);
    for (const object of objects) {
      expect(field(object, 'metadata', 'namespace')).toBe('shop');
      const labels = record(field(object, 'metadata', 'labels'));
      expect(labels).toMatchObject({
        'app.kubernetes.io/name': 'shop',
        'app.kubernetes.io/managed-by': 'niro',
        team: 'payments',
      });
      expect(labels).not.toHaveProperty(DEPLOYMENT_ID_LABEL);
      expect(object).not.toHaveProperty('status');
      expect(record(object.metadata)).not.toHaveProperty('creationTimestamp');
    }
  });

  it('writes no empty objects, empty arrays or nulls', () => {
    for (const name of goldenNames) {
      const { objects } = buildManifests(loadForm(name), optionsFor(name));
      expect(emptyPaths(objects), name).toEqual([]);
    }
    const bare = buildManifests(
      { name: 'bare', image: 'busybox:1.37', replicas: 1, ports: [], env: [], volumes: [], resources: {}, probes: {} },
      { namespace: 'default' },
    );
    expect(emptyPaths(bare.objects)).toEqual([]);
  });

  it('leaves spec.replicas to the HPA when there is one', () => {
    const withHpa = buildManifests(loadForm('hpa'), optionsFor('hpa')).objects[0];
    expect(record(field(withHpa, 'spec'))).not.toHaveProperty('replicas');
    const { hpa: _hpa, ...rest } = loadForm('hpa');
    const withoutHpa = buildManifests(rest, optionsFor('hpa')).objects;
    expect(field(withoutHpa[0], 'spec', 'replicas')).toBe(2);
    expect(withoutHpa.map((object) => object.kind)).toEqual(['Deployment']);
  });

  it('references the pull Secret only when one is given', () => {
    const form = loadForm('minimal');
    const podSpec = (options: BuildOptions) =>
      record(field(buildManifests(form, options).objects[0], 'spec', 'template', 'spec'));
    expect(podSpec({ namespace: 'default' })).not.toHaveProperty('imagePullSecrets');
    expect(podSpec({ namespace: 'default', imagePullSecretName: 'niro-registry-x' }).imagePullSecrets).toEqual([
      { name: 'niro-registry-x' },
    ]);
  });
});

describe('policy on generated manifests', () => {
  const ruleIds = (name: string) =>
    new Set(
      evaluateYaml(buildManifests(loadForm(name), optionsFor(name)).yaml, { environment: 'production' }).findings.map(
        (finding) => finding.ruleId,
      ),
    );

  it('every generated manifest is read by the policy parser without errors', () => {
    for (const name of goldenNames) {
      const result = evaluateYaml(buildManifests(loadForm(name), optionsFor(name)).yaml, { environment: 'production' });
      expect(result.errors, name).toEqual([]);
    }
  });

  it('the full form has requests, limits and probes; the minimal form is told it has none', () => {
    const full = ruleIds('full');
    for (const rule of ['missing-requests', 'missing-limits', 'missing-probes']) expect(full).not.toContain(rule);
    const minimal = ruleIds('minimal');
    for (const rule of ['missing-requests', 'missing-limits', 'missing-probes']) expect(minimal).toContain(rule);
  });

  it('DEFAULT_FORM is a valid form that passes the requests, memory limit and probe checks', () => {
    expect(checkForm.Check(DEFAULT_FORM)).toBe(true);
    expect(validateDeploymentForm(DEFAULT_FORM)).toEqual([]);
    const { yaml, objects } = buildManifests(DEFAULT_FORM, { namespace: 'default' });
    expect(objects.map((object) => object.kind)).toEqual(['Deployment', 'Service']);
    const findings = evaluateYaml(yaml, { environment: 'production' }).findings;
    const blocking = findings.filter(
      (finding) =>
        ['missing-requests', 'missing-probes', 'probe-port-mismatch', 'selector-mismatch'].includes(finding.ruleId) ||
        (finding.ruleId === 'missing-limits' && finding.path?.endsWith('.memory') === true),
    );
    expect(blocking).toEqual([]);
  });
});
