import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AGENT_INSTALL_LABEL,
  AGENT_INSTALL_LABEL_VALUE,
  AGENT_READ_RULES,
  AGENT_SECRETS_RULES,
  CAPABILITY_GRANTS,
  CAPABILITY_NAMES,
  type CapabilityName,
  type PolicyRule,
} from '@niro/protocol';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ConfigError, DEFAULT_AGENT_IMAGE, loadConfig } from '../../config.js';
import { createTestApp, type TestApp } from '../../test-support/app.js';
import { createTestCluster } from '../../test-support/clusters.js';

const PUBLIC_URL = 'https://niro.example.test';
const SECRET_KEY = Buffer.alloc(32, 7).toString('base64');
const ADMIN_PASSWORD = 'install-test admin password';

const KubeObject = Type.Object({
  apiVersion: Type.String(),
  kind: Type.String(),
  metadata: Type.Object({
    name: Type.String(),
    namespace: Type.Optional(Type.String()),
    labels: Type.Record(Type.String(), Type.String()),
  }),
});
type KubeObject = Static<typeof KubeObject> & Record<string, unknown>;

function parseManifest(text: string): KubeObject[] {
  return parseAllDocuments(text).map((doc, i) => {
    expect(doc.errors, `document ${i}`).toEqual([]);
    const value: unknown = doc.toJS();
    if (!Value.Check(KubeObject, value)) throw new Error(`document ${i} is not a Kubernetes object`);
    return value;
  });
}

const key = (o: KubeObject): string => `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`;

function find(objects: KubeObject[], kind: string, name: string): KubeObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (o === undefined) throw new Error(`no ${kind} ${name} in the manifest`);
  return o;
}

/** The objects every install has, whatever the capabilities. */
const BASE = [
  'Namespace -/niro-system',
  'ServiceAccount niro-system/niro-agent',
  'ClusterRole -/niro-agent-read',
  'ClusterRoleBinding -/niro-agent-read',
  'Role niro-system/niro-agent-secrets',
  'RoleBinding niro-system/niro-agent-secrets',
  'Deployment niro-system/niro-agent',
];

function capabilityObjects(name: CapabilityName): string[] {
  const grant = CAPABILITY_GRANTS[name];
  const bindingKey =
    grant.scope === 'cluster' ? `ClusterRoleBinding -/${grant.roleName}` : `RoleBinding niro-system/${grant.roleName}`;
  return [`ClusterRole -/${grant.roleName}`, bindingKey];
}

const asRules = (rules: PolicyRule[]) =>
  rules.map((r) => ({
    apiGroups: r.apiGroups,
    resources: r.resources,
    verbs: r.verbs,
    ...(r.resourceNames && { resourceNames: r.resourceNames }),
  }));

describe('agent installation endpoints', () => {
  let t: TestApp;
  const secrets: string[] = [SECRET_KEY, ADMIN_PASSWORD];

  beforeAll(async () => {
    t = await createTestApp('sqlite', {
      NIRO_PUBLIC_URL: PUBLIC_URL,
      NIRO_SECRET_KEY: SECRET_KEY,
      NIRO_ADMIN_EMAIL: 'admin@example.test',
      NIRO_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    const created = await createTestCluster(t);
    secrets.push(created.enrollment.token, created.owner.token);
  });
  afterAll(() => t.dispose());

  async function manifest(query = ''): Promise<KubeObject[]> {
    const res = await t.app.inject(`/install/manifest.yaml${query}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/yaml; charset=utf-8');
    return parseManifest(res.body);
  }

  it('renders the defaults: read-only RBAC, the agent Secrets role, and only the default-on capabilities', async () => {
    const objects = await manifest();
    const defaults = CAPABILITY_NAMES.filter((n) => CAPABILITY_GRANTS[n].defaultOn);
    expect(defaults).toEqual(['pods']);
    expect(objects.map(key).sort()).toEqual([...BASE, ...defaults.flatMap(capabilityObjects)].sort());
    expect(objects[0]?.kind).toBe('Namespace');
    for (const o of objects) expect(o.metadata.labels[AGENT_INSTALL_LABEL], key(o)).toBe(AGENT_INSTALL_LABEL_VALUE);
  });

  it('renders the RBAC rules exactly as the shared grants define them, bound to the agent service account', async () => {
    const objects = await manifest('?pods=1&logs=1&apply=1&selfUpdate=1');
    const subjects = [{ kind: 'ServiceAccount', name: 'niro-agent', namespace: 'niro-system' }];
    expect(find(objects, 'ClusterRole', 'niro-agent-read').rules).toEqual(asRules(AGENT_READ_RULES));
    expect(find(objects, 'ClusterRoleBinding', 'niro-agent-read')).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'niro-agent-read' },
      subjects,
    });
    expect(find(objects, 'Role', 'niro-agent-secrets').rules).toEqual(asRules(AGENT_SECRETS_RULES));
    expect(find(objects, 'RoleBinding', 'niro-agent-secrets')).toMatchObject({
      metadata: { namespace: 'niro-system' },
      roleRef: { kind: 'Role', name: 'niro-agent-secrets' },
      subjects,
    });
    for (const name of CAPABILITY_NAMES) {
      const grant = CAPABILITY_GRANTS[name];
      expect(find(objects, 'ClusterRole', grant.roleName).rules, name).toEqual(asRules(grant.rules));
      const binding = find(objects, grant.scope === 'cluster' ? 'ClusterRoleBinding' : 'RoleBinding', grant.roleName);
      expect(binding, name).toMatchObject({ roleRef: { kind: 'ClusterRole', name: grant.roleName }, subjects });
      expect(binding.metadata.namespace, name).toBe(grant.scope === 'cluster' ? undefined : 'niro-system');
    }
    // Nothing in the manifest may let the agent widen its own rights.
    const verbs = objects
      .flatMap((o) => (Array.isArray(o.rules) ? o.rules : []))
      .flatMap((r: unknown) =>
        typeof r === 'object' && r !== null && 'verbs' in r && Array.isArray(r.verbs) ? r.verbs : [],
      );
    expect(verbs).not.toEqual(expect.arrayContaining(['escalate']));
    expect(verbs).not.toEqual(expect.arrayContaining(['bind']));
    expect(verbs).not.toEqual(expect.arrayContaining(['impersonate']));
    expect(verbs).not.toEqual(expect.arrayContaining(['*']));
  });

  it.each([
    ['?pods=0', []],
    ['?pods=0&logs=1', ['logs']],
    ['?logs=1&apply=1', ['pods', 'logs', 'apply']],
    ['?pods=0&selfUpdate=1', ['selfUpdate']],
    ['?pods=1&logs=0&apply=0&selfUpdate=0', ['pods']],
  ] satisfies [string, CapabilityName[]][])('renders %s with exactly the capabilities %j', async (query, enabled) => {
    const objects = await manifest(query);
    expect(objects.map(key).sort()).toEqual([...BASE, ...enabled.flatMap(capabilityObjects)].sort());
  });

  it('runs one hardened, listener-free agent that dials the public URL with the optional token', async () => {
    const deployment = find(await manifest(), 'Deployment', 'niro-agent');
    expect(deployment).toMatchObject({
      metadata: { namespace: 'niro-system' },
      spec: {
        replicas: 1,
        strategy: { type: 'Recreate' },
        template: {
          spec: {
            serviceAccountName: 'niro-agent',
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                image: DEFAULT_AGENT_IMAGE,
                env: [
                  { name: 'NIRO_URL', value: PUBLIC_URL },
                  {
                    name: 'NIRO_TOKEN',
                    valueFrom: { secretKeyRef: { name: 'niro-agent-token', key: 'token', optional: true } },
                  },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ],
                resources: { requests: { cpu: expect.any(String), memory: expect.any(String) } },
                securityContext: {
                  runAsNonRoot: true,
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
              },
            ],
          },
        },
      },
    });
    const podSpec = ['spec', 'template', 'spec'];
    const container = [...podSpec, 'containers', 0];
    expect(deployment).toHaveProperty([...podSpec, 'containers', 'length'], 1);
    expect(deployment).not.toHaveProperty([...container, 'ports']);
    expect(deployment).toHaveProperty(
      [...container, 'resources', 'limits', 'memory'],
      expect.stringMatching(/^\d+Mi$/),
    );
    expect(deployment).toHaveProperty([...container, 'securityContext', 'runAsUser'], expect.any(Number));
    expect(deployment).not.toHaveProperty([...container, 'securityContext', 'runAsUser'], 0);
    expect(deployment).toHaveProperty(
      ['spec', 'template', 'metadata', 'labels', AGENT_INSTALL_LABEL],
      AGENT_INSTALL_LABEL_VALUE,
    );
  });

  it('answers a bad flag value with a 400 naming the parameter', async () => {
    for (const [query, param] of [
      ['?pods=2', 'pods'],
      ['?logs=true', 'logs'],
      ['?apply=', 'apply'],
      ['?selfUpdate=yes', 'selfUpdate'],
      ['?pods=1&pods=0', 'pods'],
    ]) {
      const res = await t.app.inject(`/install/manifest.yaml${query}`);
      expect(res.statusCode, query).toBe(400);
      const body: unknown = res.json();
      expect(body, query).toMatchObject({
        error: { code: 'invalid_request', details: { fields: [expect.anything()] } },
      });
      expect(body, query).toHaveProperty(['error', 'details', 'fields', 0, 'field'], `querystring.${param}`);
      expect(body, query).toHaveProperty(['error', 'message'], expect.stringContaining(`querystring.${param}`));
    }
  });

  it('serves a POSIX sh script that bakes in the public URL and passes sh -n', async () => {
    const res = await t.app.inject('/install.sh');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    const script = res.body;
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain('set -eu');
    expect(script).toContain(`url=\${NIRO_URL:-'${PUBLIC_URL}'}`);
    for (const name of CAPABILITY_NAMES) expect(script).toContain(CAPABILITY_GRANTS[name].envVar);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-install-'));
    try {
      const file = path.join(dir, 'install.sh');
      fs.writeFileSync(file, script);
      // sh is dash on Debian; busybox sh is checked too where it is installed.
      execFileSync('sh', ['-n', file]);
      if (spawnSync('busybox', ['true']).status === 0) execFileSync('busybox', ['sh', '-n', file]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops with a clear message when a flag is wrong or kubectl is missing', async () => {
    const script = (await t.app.inject('/install.sh')).body;
    const run = (env: Record<string, string>) =>
      spawnSync('/bin/sh', ['-s'], { input: script, encoding: 'utf8', env: { PATH: '/nonexistent', ...env } });
    const badFlag = run({ NIRO_ENABLE_LOGS: 'maybe', NIRO_TOKEN: 'niro_et_not-a-real-token' });
    expect(badFlag.status).not.toBe(0);
    expect(badFlag.stderr).toContain("NIRO_ENABLE_LOGS must be 1 or 0, not 'maybe'");
    const noKubectl = run({ NIRO_TOKEN: 'niro_et_not-a-real-token' });
    expect(noKubectl.status).not.toBe(0);
    expect(noKubectl.stderr).toContain('kubectl not found on PATH');
    expect(noKubectl.stdout + noKubectl.stderr + badFlag.stdout + badFlag.stderr).not.toContain('not-a-real-token');
  });

  it('puts no secret in the script or the manifest, and needs no credential for either', async () => {
    const bodies = await Promise.all(
      ['/install.sh', '/install/manifest.yaml', '/install/manifest.yaml?logs=1&apply=1&selfUpdate=1'].map(
        async (url) => {
          const res = await t.app.inject(url);
          expect(res.statusCode, url).toBe(200);
          return res.body;
        },
      ),
    );
    for (const body of bodies) for (const secret of secrets) expect(body).not.toContain(secret);
  });
});

describe('NIRO_AGENT_IMAGE', () => {
  it('defaults to the agent image of this server version', () => {
    const pkg: unknown = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    const version = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
    expect(DEFAULT_AGENT_IMAGE).toBe(`ghcr.io/niro-dev/niro-agent:${String(version)}`);
    expect(loadConfig({}).agentImage).toBe(DEFAULT_AGENT_IMAGE);
  });

  it('is used by the manifest', async () => {
    const t = await createTestApp('sqlite', { NIRO_AGENT_IMAGE: 'registry.example.test:5000/ops/niro-agent:dev' });
    try {
      const objects = parseManifest((await t.app.inject('/install/manifest.yaml')).body);
      expect(find(objects, 'Deployment', 'niro-agent')).toHaveProperty(
        ['spec', 'template', 'spec', 'containers', 0, 'image'],
        'registry.example.test:5000/ops/niro-agent:dev',
      );
    } finally {
      await t.dispose();
    }
  });

  it('rejects a value that is not an image reference, naming the variable', () => {
    for (const bad of ['niro agent', 'ghcr.io/niro-dev/niro-agent:"x"', 'ghcr.io/Niro/agent', ':tag']) {
      expect(() => loadConfig({ NIRO_AGENT_IMAGE: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ NIRO_AGENT_IMAGE: bad }), bad).toThrow(/^NIRO_AGENT_IMAGE: /);
    }
    for (const good of [
      'niro-agent',
      'ghcr.io/niro-dev/niro-agent@sha256:' + 'a'.repeat(64),
      'localhost:5000/a/b:1.2.3-rc.1',
    ]) {
      expect(loadConfig({ NIRO_AGENT_IMAGE: good }).agentImage).toBe(good);
    }
  });
});
