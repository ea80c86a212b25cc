import { describe, expect, it } from 'vitest';
import { DEFAULT_EXEMPTIONS, evaluate, evaluateWorkload, evaluateYaml, type RuleFailure } from './engine.js';
import { RULES, ruleById } from './rules/index.js';
import type { KubeObject, Rule } from './types.js';
import { relatedObjects, toWorkload } from './workloads.js';

/** Reports every container without a memory limit; low outside production, high in it. */
const NO_LIMIT: Rule = {
  id: 'test-no-limit',
  title: 'No memory limit',
  category: 'efficiency',
  description: 'A test rule.',
  fix: 'Set a memory limit.',
  reads: ['containers[].resources.limits.memory'],
  severity: { nonProduction: 'low', production: 'high' },
  check: ({ containers }) =>
    containers
      .filter((c) => JSON.stringify(c.spec.resources ?? {}).includes('memory') === false)
      .map((c) => ({ message: `${c.name} has no memory limit`, container: c.name, path: `${c.path}.resources` })),
};

/** Reports a workload with no Service in its namespace (needs related objects). */
const NO_SERVICE: Rule = {
  id: 'test-no-service',
  title: 'No Service',
  category: 'reliability',
  description: 'A test rule.',
  fix: 'Add a Service.',
  reads: [],
  severity: { nonProduction: 'info', production: 'medium' },
  needs: ['Service'],
  check: ({ workload, related }) =>
    related.inNamespace('Service', workload.ref.namespace ?? 'default').length === 0
      ? [{ message: 'no Service in its namespace' }]
      : [],
};

/** Reports any object whose apiVersion ends in beta1, workloads or not; says how many workloads it saw. */
const BETA: Rule = {
  id: 'test-beta',
  title: 'Beta API',
  category: 'reliability',
  description: 'A test rule.',
  fix: 'Use a stable API.',
  reads: ['apiVersion'],
  severity: { nonProduction: 'medium', production: 'medium' },
  checkObject: (object, { workloads }) =>
    object.apiVersion.endsWith('beta1')
      ? [{ message: `${object.apiVersion} (${workloads.length} workloads in the set)`, path: 'apiVersion' }]
      : [],
};

const THROWS: Rule = {
  id: 'test-throws',
  title: 'Broken',
  category: 'security',
  description: 'A test rule that fails.',
  fix: 'None.',
  reads: [],
  severity: { nonProduction: 'high', production: 'high' },
  check: () => {
    throw new Error('boom');
  },
};

const TEST_RULES = [NO_LIMIT, NO_SERVICE, BETA];

function deployment(name: string, namespace?: string, containers = [{ name: 'app', image: 'app:1' }]): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: namespace === undefined ? { name } : { name, namespace },
    spec: { template: { metadata: { labels: { app: name } }, spec: { containers } } },
  };
}

const service = (name: string, namespace?: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: namespace === undefined ? { name } : { name, namespace },
});

describe('evaluate', () => {
  it('runs workload rules on workloads and object rules on every object, with id, title, fix and path', () => {
    const findings = evaluate(
      [deployment('web', 'shop'), { apiVersion: 'example.com/v1beta1', kind: 'Widget', metadata: { name: 'w' } }],
      { environment: 'dev', rules: TEST_RULES },
    );
    expect(findings).toEqual([
      {
        ruleId: 'test-beta',
        title: 'Beta API',
        severity: 'medium',
        category: 'reliability',
        message: 'example.com/v1beta1 (1 workloads in the set)',
        object: { kind: 'Widget', name: 'w' },
        path: 'apiVersion',
        fix: 'Use a stable API.',
      },
      {
        ruleId: 'test-no-limit',
        title: 'No memory limit',
        severity: 'low',
        category: 'efficiency',
        message: 'app has no memory limit',
        object: { kind: 'Deployment', namespace: 'shop', name: 'web' },
        container: 'app',
        path: 'spec.template.spec.containers[0].resources',
        fix: 'Set a memory limit.',
      },
      expect.objectContaining({ ruleId: 'test-no-service', severity: 'info' }),
    ]);
  });

  it('rates severity by environment, staging one step below production', () => {
    const severity = (environment: 'dev' | 'unspecified' | 'staging' | 'production') =>
      evaluate([deployment('web')], { environment, rules: [NO_LIMIT] })[0]?.severity;
    expect(severity('dev')).toBe('low');
    expect(severity('unspecified')).toBe('low');
    expect(severity('staging')).toBe('medium');
    expect(severity('production')).toBe('high');
  });

  it('lets a hit override the severity of its rule', () => {
    const rule: Rule = {
      ...NO_LIMIT,
      check: () => [{ message: 'x', severity: { nonProduction: 'info', production: 'info' } }],
    };
    expect(evaluate([deployment('web')], { environment: 'production', rules: [rule] })[0]?.severity).toBe('info');
  });

  it('sorts worst first, then by object, then by rule', () => {
    const findings = evaluate([deployment('b', 'x'), deployment('a', 'x'), deployment('z', 'a'), service('s', 'x')], {
      environment: 'production',
      rules: TEST_RULES,
    });
    expect(findings.map((f) => `${f.severity} ${f.object.namespace}/${f.object.name} ${f.ruleId}`)).toEqual([
      'high a/z test-no-limit',
      'high x/a test-no-limit',
      'high x/b test-no-limit',
      'medium a/z test-no-service',
    ]);
  });

  it('looks up related objects in the same set, or in the set it is given', () => {
    const alone = evaluate([deployment('web', 'shop')], { environment: 'dev', rules: [NO_SERVICE] });
    expect(alone.map((f) => f.ruleId)).toEqual(['test-no-service']);
    const withService = evaluate([deployment('web', 'shop'), service('web', 'shop')], {
      environment: 'dev',
      rules: [NO_SERVICE],
    });
    expect(withService).toEqual([]);
    const elsewhere = evaluate([deployment('web', 'shop'), service('web', 'other')], {
      environment: 'dev',
      rules: [NO_SERVICE],
    });
    expect(elsewhere.map((f) => f.ruleId)).toEqual(['test-no-service']);
    const inventory = relatedObjects([service('web', 'shop')], true);
    expect(
      evaluate([deployment('web', 'shop')], { environment: 'dev', rules: [NO_SERVICE], related: inventory }),
    ).toEqual([]);
  });

  it('exempts the k3s system workloads by default, and nothing when told so', () => {
    const system = [
      deployment('coredns', 'kube-system'),
      deployment('traefik', 'kube-system'),
      { ...deployment('svclb-traefik-1234', 'kube-system'), kind: 'DaemonSet' },
      deployment('local-path-provisioner', 'kube-system'),
      deployment('metrics-server', 'kube-system'),
      { ...deployment('helm-install-traefik', 'kube-system'), kind: 'Job' },
    ];
    const coreDnsPod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'coredns-6799fbcd5-x2x9k',
        namespace: 'kube-system',
        labels: { 'pod-template-hash': '6799fbcd5' },
        ownerReferences: [{ kind: 'ReplicaSet', name: 'coredns-6799fbcd5' }],
      },
      spec: { containers: [{ name: 'coredns', image: 'coredns:1' }] },
    };
    const mine = [deployment('coredns', 'shop'), deployment('my-app', 'kube-system')];
    const findings = evaluate([...system, coreDnsPod, ...mine], { environment: 'production', rules: [NO_LIMIT] });
    expect(findings.map((f) => `${f.object.namespace}/${f.object.name}`).sort()).toEqual([
      'kube-system/my-app',
      'shop/coredns',
    ]);
    const all = evaluate([...system, coreDnsPod], { environment: 'production', rules: [NO_LIMIT], exemptions: [] });
    expect(all).toHaveLength(system.length + 1);
    expect(DEFAULT_EXEMPTIONS.every((e) => e.namespace === 'kube-system' && e.reason !== '')).toBe(true);
  });

  it('drops suppressed findings for that rule and object only', () => {
    const objects = [deployment('web', 'shop'), deployment('api', 'shop'), deployment('web')];
    const findings = evaluate(objects, {
      environment: 'dev',
      rules: [NO_LIMIT, NO_SERVICE],
      suppressions: [
        { ruleId: 'test-no-limit', object: { kind: 'Deployment', namespace: 'shop', name: 'web' }, reason: 'batch' },
        // No namespace means `default`.
        { ruleId: 'test-no-service', object: { kind: 'Deployment', name: 'web' }, reason: 'headless' },
      ],
    });
    expect(findings.map((f) => `${f.object.namespace ?? '-'}/${f.object.name} ${f.ruleId}`).sort()).toEqual([
      '-/web test-no-limit',
      'shop/api test-no-limit',
      'shop/api test-no-service',
      'shop/web test-no-service',
    ]);
  });

  it('skips workload rules for kinds that are not workloads, and workloads without a pod spec', () => {
    const findings = evaluate(
      [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, spec: { containers: [{ name: 'x' }] } },
        { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'empty' } },
      ],
      { environment: 'production', rules: TEST_RULES },
    );
    expect(findings).toEqual([]);
  });

  it('survives a rule that throws: no finding from it, the others still run, the failure is reported', () => {
    const failures: RuleFailure[] = [];
    const findings = evaluate([deployment('web', 'shop')], {
      environment: 'dev',
      rules: [THROWS, NO_LIMIT],
      onRuleFailure: (failure) => failures.push(failure),
    });
    expect(findings.map((f) => f.ruleId)).toEqual(['test-no-limit']);
    expect(failures).toEqual([
      { ruleId: 'test-throws', object: { kind: 'Deployment', namespace: 'shop', name: 'web' }, message: 'boom' },
    ]);
  });

  it('runs every rule of the catalogue by default', () => {
    const findings = evaluate([deployment('web', 'shop', [{ name: 'app', image: 'nginx' }])], {
      environment: 'production',
    });
    const ids = new Set(findings.map((f) => f.ruleId));
    expect(ids.has('mutable-image-tag')).toBe(true);
    for (const id of ids) expect(ruleById(id), id).toBeDefined();
  });
});

describe('evaluateWorkload', () => {
  it('evaluates one workload against an inventory', () => {
    const workload = toWorkload(deployment('web', 'shop'));
    if (workload === undefined) throw new Error('no workload');
    const inventory = relatedObjects([service('web', 'shop')], true);
    expect(evaluateWorkload(workload, inventory, 'production', TEST_RULES).map((f) => f.ruleId)).toEqual([
      'test-no-limit',
    ]);
    expect(evaluateWorkload(workload, relatedObjects([], true), 'staging', TEST_RULES).map((f) => f.severity)).toEqual([
      'medium',
      'low',
    ]);
  });
});

describe('evaluateYaml', () => {
  const YAML = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec:
  template:
    spec:
      containers: [{ name: app, image: app:1 }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
---
kind: [unclosed
`;

  it('evaluates what could be read and reports the rest as errors', () => {
    const { findings, errors } = evaluateYaml(YAML, { environment: 'production', rules: TEST_RULES });
    expect(findings.map((f) => f.ruleId)).toEqual(['test-no-limit']);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]?.document).toBe(3);
    expect(errors[0]?.line).toBeGreaterThanOrEqual(13);
  });

  it('reports a rule that throws as an error naming the rule and the object, and keeps the other findings', () => {
    const { findings, errors } = evaluateYaml(YAML.split('---\nkind:')[0] ?? '', {
      environment: 'dev',
      rules: [THROWS, NO_LIMIT],
    });
    expect(findings.map((f) => f.ruleId)).toEqual(['test-no-limit']);
    expect(errors).toEqual([
      {
        document: 1,
        line: 1,
        message: expect.stringMatching(/^rule test-throws failed on Deployment shop\/web.*: boom$/),
      },
    ]);
  });

  it('runs the whole catalogue on a manifest', () => {
    const { findings, errors } = evaluateYaml(YAML, { environment: 'production' });
    expect(errors).toHaveLength(1);
    expect(findings.length).toBeGreaterThan(0);
    expect(new Set(findings.map((f) => f.ruleId)).size).toBeLessThanOrEqual(RULES.length);
  });
});
