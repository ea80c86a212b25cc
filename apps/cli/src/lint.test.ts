import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RULES } from '@niro/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNiro, type NiroRun } from './test-support/run-niro.js';

/** A Deployment that every rule accepts, with the PDB and NetworkPolicy the set-level rules look for. */
const CLEAN = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  replicas: 3
  revisionHistoryLimit: 5
  selector:
    matchLabels: { app: api }
  template:
    metadata:
      labels: { app: api }
    spec:
      serviceAccountName: api
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: { type: RuntimeDefault }
      containers:
        - name: api
          image: registry.example.com/shop/api:1.4.2@sha256:${'a'.repeat(64)}
          ports: [{ name: http, containerPort: 8080 }]
          readinessProbe: { httpGet: { path: /ready, port: http } }
          livenessProbe: { httpGet: { path: /live, port: 8080 } }
          resources:
            requests: { cpu: 100m, memory: 128Mi }
            limits: { cpu: '1', memory: 256Mi }
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: { drop: [ALL] }
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: api, namespace: shop }
spec:
  maxUnavailable: 1
  selector: { matchLabels: { app: api } }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: api, namespace: shop }
spec:
  podSelector: { matchLabels: { app: api } }
  policyTypes: [Ingress, Egress]
  ingress: [{}]
  egress: [{}]
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: api, namespace: shop }
`;

/** One replica and a `:latest` image: low/info in dev, high in production. */
const WEB = `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: shop
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 1
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: nginx:latest
`;
/** The line of `kind: Deployment`'s document in WEB. */
const WEB_DEPLOYMENT_LINE = 9;

/** Privileged: high in every environment. */
const AGENT = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: node-agent
  namespace: ops
spec:
  selector:
    matchLabels: { app: node-agent }
  template:
    metadata:
      labels: { app: node-agent }
    spec:
      containers:
        - name: agent
          image: ghcr.io/example/node-agent:2.0.1
          securityContext: { privileged: true }
`;

const INVALID = `apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
data:
  key: [unclosed
  other: value
`;

type JsonFinding = {
  ruleId: string;
  severity: string;
  file: string;
  line?: number;
  object: { kind: string; namespace?: string; name: string };
  path?: string;
  fix?: string;
};
type JsonReport = { environment: string; findings: JsonFinding[]; errors: { file: string; line?: number }[] };

function jsonReport(run: NiroRun): JsonReport {
  const parsed: unknown = JSON.parse(run.stdout);
  expect(parsed).toMatchObject({ findings: expect.any(Array), errors: expect.any(Array) });
  return parsed as JsonReport;
}

describe('niro lint', () => {
  let dir: string;
  const lint = (args: string[], stdin?: string): Promise<NiroRun> =>
    runNiro(['lint', ...args], {
      configDir: path.join(dir, 'config'),
      cwd: dir,
      ...(stdin === undefined ? {} : { stdin }),
    });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'niro-lint-test-'));
    const write = async (file: string, text: string): Promise<void> => {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text);
    };
    await write('clean.yaml', CLEAN);
    await write('web.yaml', WEB);
    await write('agent.yaml', AGENT);
    await write('invalid.yaml', INVALID);
    // A tree: nested files are found, hidden directories, node_modules and other files are not.
    await write('tree/apps/web.yml', WEB);
    await write('tree/ops/agent.json', JSON.stringify(yamlAgentAsJson(), null, 2));
    await write('tree/.github/broken.yaml', INVALID);
    await write('tree/node_modules/pkg/broken.yaml', INVALID);
    await write('tree/README.md', '# not a manifest\n');
    await write('tree/values.yaml', 'replicaCount: 2\nimage:\n  tag: latest\n');
    await write('tree/package.json', '{ "name": "not-a-manifest" }\n');
    await write('tree/chart/Chart.yaml', 'apiVersion: v2\nname: web\nversion: 0.1.0\n');
    await write(
      'tree/chart/templates/deployment.yaml',
      'metadata:\n  name: {{ .Release.Name }}\n{{- if .Values.x }}\n',
    );
    // A kustomization: only the resources it lists; the patch beside them is not a whole object.
    await write('kustomized/kustomization.yaml', 'resources:\n  - web.yaml\n  - https://example.com/remote.yaml\n');
    await write('kustomized/web.yaml', WEB);
    await write('kustomized/replicas-patch.yaml', INVALID);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 on manifests that pass every rule', async () => {
    const run = await lint(['--environment', 'production', 'clean.yaml']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('No findings in 4 objects in 1 file (production).\n');
  });

  it('exits 1 on a finding at or above --fail-on (default high) and 0 below it', async () => {
    const dev = await lint(['--environment', 'dev', 'web.yaml']);
    expect(dev.code).toBe(0);
    expect(dev.stdout).toContain(`web.yaml:${WEB_DEPLOYMENT_LINE}  Deployment shop/web`);
    expect(dev.stdout).not.toMatch(/\bhigh\b/);

    const failOnLow = await lint(['--environment', 'dev', '--fail-on', 'low', 'web.yaml']);
    expect(failOnLow.code).toBe(1);

    const privileged = await lint(['--environment', 'dev', 'agent.yaml']);
    expect(privileged.code).toBe(1);
    expect(privileged.stdout).toMatch(/^ {2}high +privileged-container +.+$/m);
    expect(privileged.stdout).toMatch(/at spec\.template\.spec\.containers\[0\]\.securityContext\.privileged$/m);
    expect(privileged.stdout).toMatch(/^ +fix: .+/m);
    expect(privileged.stdout).toMatch(
      /^\d+ high(, \d+ \w+)* in 1 object of 1 file \(1 object in 1 file checked, dev\)\.$/m,
    );
    // Not a terminal: no colour codes.
    expect(privileged.stdout).not.toContain('\x1b[');
  });

  it('raises severities in production', async () => {
    const dev = jsonReport(await lint(['--environment', 'dev', '--format', 'json', 'web.yaml']));
    const prod = jsonReport(await lint(['--environment', 'production', '--format', 'json', 'web.yaml']));
    const severityOf = (r: JsonReport, rule: string): string | undefined =>
      r.findings.find((f) => f.ruleId === rule)?.severity;
    expect(severityOf(dev, 'single-replica')).toBe('info');
    expect(severityOf(prod, 'single-replica')).toBe('high');
    expect(severityOf(dev, 'mutable-image-tag')).toBe('low');
    expect(severityOf(prod, 'mutable-image-tag')).toBe('high');
    expect(severityOf(await lintJson(['--environment', 'staging', 'web.yaml']), 'single-replica')).toBe('medium');
    expect(prod.findings.every((f) => f.file === 'web.yaml' && f.line === WEB_DEPLOYMENT_LINE)).toBe(true);
    expect(prod.findings[0]).toMatchObject({ object: { kind: 'Deployment', namespace: 'shop', name: 'web' } });

    const prodRun = await lint(['--environment', 'production', 'web.yaml']);
    expect(prodRun.code).toBe(1);
  });

  const lintJson = async (args: string[]): Promise<JsonReport> => jsonReport(await lint(['--format', 'json', ...args]));

  it('writes SARIF 2.1.0 that GitHub code scanning accepts, with the object lines', async () => {
    const run = await lint(['--environment', 'production', '--format', 'sarif', 'web.yaml', 'agent.yaml']);
    expect(run.code).toBe(1);
    const sarif: unknown = JSON.parse(run.stdout);
    expect(sarif).toMatchObject({
      version: '2.1.0',
      $schema: expect.stringMatching(/sarif.*2\.1\.0.*\.json$/),
      runs: [{ tool: { driver: { name: 'niro', rules: expect.any(Array) } }, results: expect.any(Array) }],
    });
    const run0 = (sarif as { runs: [SarifRun] }).runs[0];
    const ruleIds = run0.tool.driver.rules.map((r) => r.id);
    expect(ruleIds).toEqual(RULES.map((r) => r.id));
    for (const rule of run0.tool.driver.rules) {
      expect(rule.shortDescription.text).not.toBe('');
      expect(rule.fullDescription.text).not.toBe('');
      expect(rule.help.text).not.toBe('');
      expect(['error', 'warning', 'note']).toContain(rule.defaultConfiguration.level);
      expect(rule.properties.tags).toContain(rule.properties.category);
    }
    expect(run0.results.length).toBeGreaterThan(2);
    for (const result of run0.results) {
      expect(ruleIds).toContain(result.ruleId);
      expect(ruleIds[result.ruleIndex]).toBe(result.ruleId);
      expect(result.message.text).not.toBe('');
      expect(result.locations).toHaveLength(1);
      expect(['error', 'warning', 'note']).toContain(result.level);
    }
    const byRule = (id: string): SarifResult | undefined => run0.results.find((r) => r.ruleId === id);
    expect(byRule('single-replica')).toMatchObject({
      level: 'error',
      locations: [
        { physicalLocation: { artifactLocation: { uri: 'web.yaml' }, region: { startLine: WEB_DEPLOYMENT_LINE } } },
      ],
    });
    expect(byRule('privileged-container')).toMatchObject({
      level: 'error',
      locations: [{ physicalLocation: { artifactLocation: { uri: 'agent.yaml' }, region: { startLine: 1 } } }],
    });
    expect(run.stderr).toMatch(/high/);
  });

  it('reads directories recursively, skipping hidden directories, node_modules, Helm charts and other files', async () => {
    const run = await lint(['--format', 'json', 'tree']);
    expect(run.code).toBe(1);
    const report = jsonReport(run);
    expect(report.errors).toEqual([]);
    expect([...new Set(report.findings.map((f) => f.file))].sort()).toEqual([
      path.join('tree', 'apps', 'web.yml'),
      path.join('tree', 'ops', 'agent.json'),
    ]);
    expect(run.stderr).toContain(`${path.join('tree', 'values.yaml')}: skipped, not Kubernetes manifests`);
    expect(run.stderr).toContain(`${path.join('tree', 'package.json')}: skipped, not Kubernetes manifests`);
    expect(run.stderr).toContain(`${path.join('tree', 'chart')}: skipped, a Helm chart`);
    expect(report.findings.find((f) => f.file.endsWith('agent.json'))).toMatchObject({
      ruleId: 'privileged-container',
      line: 1,
    });
  });

  it('lints only the resources a kustomization lists', async () => {
    const run = await lint(['--format', 'json', 'kustomized']);
    expect(run.code).toBe(0);
    const report = jsonReport(run);
    expect(report.errors).toEqual([]);
    expect(new Set(report.findings.map((f) => f.file))).toEqual(new Set([path.join('kustomized', 'web.yaml')]));
    expect(run.stderr).toContain('skipped remote resource https://example.com/remote.yaml');
  });

  it('reads standard input', async () => {
    const run = await lint(['--environment', 'production', '-'], WEB);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`<stdin>:${WEB_DEPLOYMENT_LINE}  Deployment shop/web`);
    expect(run.stdout).toContain('single-replica');
  });

  it('exits 2 on invalid YAML and missing files, naming file and line, and still reports the rest', async () => {
    const run = await lint(['invalid.yaml', 'agent.yaml', 'missing.yaml']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^niro: invalid\.yaml:\d+: .+$/m);
    expect(run.stderr).toContain('niro: missing.yaml: no such file or directory');
    expect(run.stdout).toContain('privileged-container');

    const json = jsonReport(await lint(['--format', 'json', 'invalid.yaml']));
    expect(json.errors).toEqual([expect.objectContaining({ file: 'invalid.yaml', line: expect.any(Number) })]);
    expect(json.errors[0]?.line).toBeGreaterThanOrEqual(6);
  });

  it('suppresses a rule everywhere or for one object', async () => {
    const all = await lintJson(['--environment', 'production', '--suppress', 'single-replica', 'web.yaml']);
    expect(all.findings.map((f) => f.ruleId)).not.toContain('single-replica');
    expect(all.findings.map((f) => f.ruleId)).toContain('mutable-image-tag');

    const other = await lintJson([
      '--environment',
      'production',
      '--suppress',
      'single-replica:Deployment/shop/api',
      'web.yaml',
    ]);
    expect(other.findings.map((f) => f.ruleId)).toContain('single-replica');
    const one = await lint([
      '--environment',
      'production',
      '--suppress',
      'single-replica:deployment/shop/web',
      'web.yaml',
    ]);
    expect(one.stdout).not.toContain('single-replica');
    expect(one.stdout).toMatch(/1 suppressed/);

    const unknown = await lint(['--suppress', 'no-such-rule', 'web.yaml']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no rule "no-such-rule"');
  });
});

type SarifResult = {
  ruleId: string;
  ruleIndex: number;
  level: string;
  message: { text: string };
  locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[];
};
type SarifRun = {
  tool: {
    driver: {
      rules: {
        id: string;
        shortDescription: { text: string };
        fullDescription: { text: string };
        help: { text: string };
        defaultConfiguration: { level: string };
        properties: { category: string; tags: string[] };
      }[];
    };
  };
  results: SarifResult[];
};

function yamlAgentAsJson(): unknown {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'node-agent', namespace: 'ops' },
    spec: {
      selector: { matchLabels: { app: 'node-agent' } },
      template: {
        metadata: { labels: { app: 'node-agent' } },
        spec: {
          containers: [
            { name: 'agent', image: 'ghcr.io/example/node-agent:2.0.1', securityContext: { privileged: true } },
          ],
        },
      },
    },
  };
}
