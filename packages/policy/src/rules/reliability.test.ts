import { describe, expect, it } from 'vitest';
import type { KubeObject, ObjectContext, Rule, RuleHit, Workload } from '../types.js';
import { evaluate } from '../engine.js';
import { containersOf, relatedObjects, toWorkload } from '../workloads.js';
import { RELIABILITY_RULES, labelSelectorMatches } from './reliability.js';
import {
  container,
  cronJob,
  daemonSet,
  deployment,
  job,
  object,
  pod,
  ruleIn,
  statefulSet,
} from './test-support/rules-fixtures.js';

const rule = (id: string) => ruleIn(RELIABILITY_RULES, id);

function workloadOf(o: KubeObject): Workload {
  const workload = toWorkload(o);
  if (!workload) throw new Error(`not a workload: ${o.kind}`);
  return workload;
}

/** Runs a workload rule on `target`, with `target` and `others` as the manifest set (or inventory). */
function runRule(
  r: Rule,
  target: KubeObject,
  others: readonly KubeObject[] = [],
  options: { complete?: boolean } = {},
): RuleHit[] {
  if (!r.check) throw new Error(`rule ${r.id} has no per-workload check`);
  const workload = workloadOf(target);
  return r.check({
    workload,
    containers: containersOf(workload),
    related: relatedObjects([target, ...others], options.complete ?? false),
    environment: 'production',
  });
}

/** Runs an object rule on `target`, with `target` and `others` as the manifest set (or inventory). */
function objectHits(r: Rule, target: KubeObject, others: readonly KubeObject[] = [], complete = false): RuleHit[] {
  if (!r.checkObject) throw new Error(`rule ${r.id} has no object check`);
  const all = [target, ...others];
  const context: ObjectContext = {
    related: relatedObjects(all, complete),
    workloads: all.flatMap((o) => toWorkload(o) ?? []),
    environment: 'production',
  };
  return r.checkObject(target, context);
}

/** A container that passes every reliability rule. */
function healthy(name = 'app', fields: Record<string, unknown> = {}): Record<string, unknown> {
  return container(name, {
    ports: [{ name: 'http', containerPort: 8080 }],
    readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
    livenessProbe: { httpGet: { path: '/live', port: 8080 } },
    ...fields,
  });
}

function specOf(o: KubeObject): Record<string, unknown> {
  const spec = o.spec;
  return typeof spec === 'object' && spec !== null ? { ...spec } : {};
}

function withoutReplicas(o: KubeObject): KubeObject {
  const spec = specOf(o);
  delete spec.replicas;
  return { ...o, spec };
}

function withSpec(o: KubeObject, fields: Record<string, unknown>): KubeObject {
  return { ...o, spec: { ...specOf(o), ...fields } };
}

function hpa(target: { kind: string; name: string }, minReplicas?: number, namespace?: string): KubeObject {
  return object(
    'HorizontalPodAutoscaler',
    `${target.name}-hpa`,
    {
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', ...target },
        ...(minReplicas === undefined ? {} : { minReplicas }),
        maxReplicas: 10,
      },
    },
    namespace,
  );
}

function pdb(selector: Record<string, unknown>, namespace?: string, apiVersion = 'policy/v1'): KubeObject {
  return { ...object('PodDisruptionBudget', 'web', { spec: { maxUnavailable: 1, selector } }, namespace), apiVersion };
}

function service(selector: Record<string, string> | undefined, namespace?: string, extra = {}): KubeObject {
  return object(
    'Service',
    'web',
    { spec: { ...(selector ? { selector } : {}), ports: [{ port: 80, targetPort: 'http' }], ...extra } },
    namespace,
  );
}

describe('reliability catalogue', () => {
  it('has the seven rules with ids, texts, reads and severity pairs', () => {
    expect(RELIABILITY_RULES.map((r) => r.id)).toEqual([
      'single-replica',
      'missing-probes',
      'no-rollback-history',
      'probe-port-mismatch',
      'selector-mismatch',
      'missing-pdb',
      'deprecated-api',
    ]);
    for (const r of RELIABILITY_RULES) {
      expect(r.category).toBe('reliability');
      expect(r.title.length).toBeGreaterThan(5);
      expect(r.description.length).toBeGreaterThan(80);
      expect(r.fix.length).toBeGreaterThan(20);
      expect(r.reads.length).toBeGreaterThan(0);
      expect(Boolean(r.check) !== Boolean(r.checkObject)).toBe(true);
    }
    expect(rule('single-replica').severity).toEqual({ nonProduction: 'info', production: 'high' });
    expect(rule('missing-probes').severity).toEqual({ nonProduction: 'medium', production: 'medium' });
    expect(rule('no-rollback-history').severity).toEqual({ nonProduction: 'low', production: 'medium' });
    expect(rule('missing-pdb').severity).toEqual({ nonProduction: 'low', production: 'medium' });
    expect(rule('deprecated-api').severity).toEqual({ nonProduction: 'medium', production: 'high' });
  });

  it('passes a replicated, probed Deployment with its PDB and Service', () => {
    const web = deployment({ containers: [healthy()] }, {}, 3);
    const budget = pdb({ matchLabels: { app: 'web' } });
    const svc = service({ app: 'web' });
    for (const r of RELIABILITY_RULES) {
      if (r.check) expect(runRule(r, web, [budget, svc]), r.id).toEqual([]);
      for (const target of [web, budget, svc]) {
        if (r.checkObject)
          expect(
            objectHits(
              r,
              target,
              [web, budget, svc].filter((o) => o !== target),
            ),
            r.id,
          ).toEqual([]);
      }
    }
  });
});

describe('single-replica', () => {
  const r = rule('single-replica');

  it('passes two replicas and reports one, with the path of spec.replicas', () => {
    expect(runRule(r, deployment({ containers: [healthy()] }, {}, 2))).toEqual([]);
    expect(runRule(r, deployment({ containers: [healthy()] }, {}, 1))).toEqual([
      { message: 'Deployment runs 1 replica and no HorizontalPodAutoscaler scales it.', path: 'spec.replicas' },
    ]);
  });

  it('treats an absent replicas field as 1, for Deployments and StatefulSets', () => {
    expect(runRule(r, withoutReplicas(deployment({ containers: [healthy()] })))).toHaveLength(1);
    expect(runRule(r, statefulSet({ containers: [healthy()] }, {}, 1))[0]?.message).toMatch(/^StatefulSet runs 1/);
  });

  it('skips a workload an HPA scales, but not an HPA of another object or namespace', () => {
    const web = deployment({ containers: [healthy()] }, { namespace: 'shop' }, 1);
    expect(runRule(r, web, [hpa({ kind: 'Deployment', name: 'web' }, 2, 'shop')])).toEqual([]);
    expect(runRule(r, web, [hpa({ kind: 'Deployment', name: 'api' }, 2, 'shop')])).toHaveLength(1);
    expect(runRule(r, web, [hpa({ kind: 'StatefulSet', name: 'web' }, 2, 'shop')])).toHaveLength(1);
    expect(runRule(r, web, [hpa({ kind: 'Deployment', name: 'web' }, 2, 'other')])).toHaveLength(1);
  });

  it('does not apply to DaemonSets, Jobs, CronJobs, Pods or workloads scaled to zero', () => {
    const spec = { containers: [healthy()] };
    for (const o of [daemonSet(spec), job(spec), cronJob(spec), pod(spec), deployment(spec, {}, 0)]) {
      expect(runRule(r, o), o.kind).toEqual([]);
    }
  });
});

describe('missing-probes', () => {
  const r = rule('missing-probes');

  it('passes a container with both probes', () => {
    expect(runRule(r, deployment({ containers: [healthy()] }))).toEqual([]);
  });

  it('names which probe is missing, with the path of the missing field', () => {
    const spec = {
      containers: [
        container('none'),
        healthy('ready-only', { livenessProbe: undefined }),
        healthy('live-only', { readinessProbe: undefined }),
        healthy('ok'),
      ],
    };
    expect(runRule(r, deployment(spec))).toEqual([
      {
        message: 'container none has no readiness or liveness probe.',
        container: 'none',
        path: 'spec.template.spec.containers[0]',
      },
      {
        message: 'container ready-only has no liveness probe.',
        container: 'ready-only',
        path: 'spec.template.spec.containers[1].livenessProbe',
      },
      {
        message: 'container live-only has no readiness probe.',
        container: 'live-only',
        path: 'spec.template.spec.containers[2].readinessProbe',
      },
    ]);
  });

  it('skips init containers that run to completion but checks sidecars', () => {
    const spec = {
      initContainers: [container('migrate'), container('proxy', { restartPolicy: 'Always' })],
      containers: [healthy()],
    };
    expect(runRule(r, deployment(spec))).toEqual([
      {
        message: 'sidecar container proxy has no readiness or liveness probe.',
        container: 'proxy',
        path: 'spec.template.spec.initContainers[1]',
      },
    ]);
  });

  it('skips Jobs and CronJobs and checks DaemonSets, StatefulSets and Pods', () => {
    const spec = { containers: [container('app')] };
    expect(runRule(r, job(spec))).toEqual([]);
    expect(runRule(r, cronJob(spec))).toEqual([]);
    expect(runRule(r, daemonSet(spec))).toHaveLength(1);
    expect(runRule(r, statefulSet(spec))).toHaveLength(1);
    expect(runRule(r, pod(spec))).toEqual([
      { message: 'container app has no readiness or liveness probe.', container: 'app', path: 'spec.containers[0]' },
    ]);
  });
});

describe('no-rollback-history', () => {
  const r = rule('no-rollback-history');
  const spec = { containers: [healthy()] };

  it('reports revisionHistoryLimit 0 on Deployments, StatefulSets and DaemonSets', () => {
    for (const o of [deployment(spec), statefulSet(spec), daemonSet(spec)]) {
      expect(runRule(r, withSpec(o, { revisionHistoryLimit: 0 })), o.kind).toEqual([
        {
          message: `${o.kind} keeps no earlier revision (revisionHistoryLimit: 0); it cannot be rolled back.`,
          path: 'spec.revisionHistoryLimit',
        },
      ]);
    }
  });

  it('passes the default and any positive limit', () => {
    expect(runRule(r, deployment(spec))).toEqual([]);
    expect(runRule(r, withSpec(deployment(spec), { revisionHistoryLimit: 3 }))).toEqual([]);
    expect(runRule(r, withSpec(job(spec), { revisionHistoryLimit: 0 }))).toEqual([]);
  });
});

describe('probe-port-mismatch', () => {
  const r = rule('probe-port-mismatch');
  const ports = [
    { name: 'http', containerPort: 8080 },
    { name: 'metrics', containerPort: 9090 },
  ];

  it('passes probes on declared names and numbers', () => {
    const c = container('api', {
      ports,
      readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
      livenessProbe: { tcpSocket: { port: 9090 } },
      startupProbe: { grpc: { port: 8080 } },
    });
    expect(runRule(r, deployment({ containers: [c] }))).toEqual([]);
  });

  it('reports a named port the container does not declare', () => {
    const c = container('api', { ports, readinessProbe: { httpGet: { path: '/ready', port: 'web' } } });
    expect(runRule(r, deployment({ containers: [c] }))).toEqual([
      {
        message: 'container api readiness probe uses port "web", which the container does not name.',
        container: 'api',
        path: 'spec.template.spec.containers[0].readinessProbe.httpGet.port',
      },
    ]);
    const noPorts = container('api', { livenessProbe: { tcpSocket: { port: 'http' } } });
    expect(runRule(r, deployment({ containers: [noPorts] }))[0]?.path).toBe(
      'spec.template.spec.containers[0].livenessProbe.tcpSocket.port',
    );
  });

  it('reports an undeclared number only when the container declares ports', () => {
    const probe = { livenessProbe: { httpGet: { path: '/live', port: 8081 } } };
    expect(runRule(r, deployment({ containers: [container('api', { ports, ...probe })] }))).toEqual([
      {
        message: 'container api liveness probe uses port 8081, not among its ports (8080, 9090).',
        container: 'api',
        path: 'spec.template.spec.containers[0].livenessProbe.httpGet.port',
      },
    ]);
    expect(runRule(r, deployment({ containers: [container('api', probe)] }))).toEqual([]);
    const grpc = container('api', { ports, startupProbe: { grpc: { port: 50051 } } });
    expect(runRule(r, deployment({ containers: [grpc] }))[0]?.path).toBe(
      'spec.template.spec.containers[0].startupProbe.grpc.port',
    );
  });

  it('reads a quoted number as a number, and skips exec probes and probes of another host', () => {
    const spec = {
      containers: [
        container('api', {
          ports,
          readinessProbe: { httpGet: { path: '/', port: '8080' } },
          livenessProbe: { exec: { command: ['true'] } },
          startupProbe: { tcpSocket: { host: 'db.example.com', port: 5432 } },
        }),
      ],
    };
    expect(runRule(r, deployment(spec))).toEqual([]);
  });

  it("does not resolve a name among another container's ports; checks sidecars and Jobs", () => {
    const spec = {
      initContainers: [
        container('proxy', { restartPolicy: 'Always', readinessProbe: { tcpSocket: { port: 'admin' } } }),
      ],
      containers: [healthy('app'), container('worker', { livenessProbe: { httpGet: { path: '/', port: 'http' } } })],
    };
    const hits = runRule(r, deployment(spec));
    expect(hits.map((h) => [h.container, h.path]).sort()).toEqual([
      ['proxy', 'spec.template.spec.initContainers[0].readinessProbe.tcpSocket.port'],
      ['worker', 'spec.template.spec.containers[1].livenessProbe.httpGet.port'],
    ]);
    const jobSpec = { containers: [container('task', { ports, livenessProbe: { tcpSocket: { port: 1 } } })] };
    expect(runRule(r, cronJob(jobSpec))[0]?.path).toBe(
      'spec.jobTemplate.spec.template.spec.containers[0].livenessProbe.tcpSocket.port',
    );
  });
});

describe('selector-mismatch', () => {
  const r = rule('selector-mismatch');
  const web = deployment({ containers: [healthy()] }, { namespace: 'shop' });

  it('passes a Service that selects a workload of its namespace and reports one that selects none', () => {
    expect(objectHits(r, service({ app: 'web' }, 'shop'), [web])).toEqual([]);
    expect(objectHits(r, service({ app: 'web', tier: 'front' }, 'shop'), [web])).toEqual([
      {
        message: 'Service selector app=web, tier=front matches no pods of the workloads in namespace "shop".',
        path: 'spec.selector',
      },
    ]);
  });

  it('does not match workloads of another namespace', () => {
    const other = deployment({ containers: [healthy()] }, { namespace: 'shop', labels: { app: 'api' } });
    expect(
      objectHits(r, service({ app: 'web' }, 'shop'), [other, { ...web, metadata: { name: 'web', namespace: 'blog' } }]),
    ).toHaveLength(1);
  });

  it('judges a manifest set only where it holds workloads of the namespace, an inventory always', () => {
    expect(objectHits(r, service({ app: 'web' }, 'billing'), [web])).toEqual([]);
    expect(objectHits(r, service({ app: 'web' }, 'billing'), [], false)).toEqual([]);
    expect(objectHits(r, service({ app: 'web' }, 'billing'), [web], true)).toHaveLength(1);
  });

  it('skips Services without a selector and ExternalName Services', () => {
    expect(objectHits(r, service(undefined, 'shop'), [web])).toEqual([]);
    expect(
      objectHits(r, service({ app: 'gone' }, 'shop', { type: 'ExternalName', externalName: 'x.example.com' }), [web]),
    ).toEqual([]);
  });

  it('matches the pod labels of Jobs, CronJobs and Pods too', () => {
    const labels = { app: 'nightly' };
    for (const o of [
      cronJob({ containers: [container('task')] }, { labels }),
      pod({ containers: [container('p')] }, { labels }),
    ]) {
      expect(objectHits(r, service(labels), [o]), o.kind).toEqual([]);
    }
  });

  it('reports a PodDisruptionBudget that selects no pod, with matchExpressions', () => {
    expect(objectHits(r, pdb({ matchLabels: { app: 'web' } }, 'shop'), [web])).toEqual([]);
    expect(
      objectHits(r, pdb({ matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] }, 'shop'), [web]),
    ).toEqual([]);
    expect(objectHits(r, pdb({ matchLabels: { app: 'wbe' } }, 'shop'), [web])).toEqual([
      {
        message:
          'PodDisruptionBudget selector matches no pods of the workloads in namespace "shop"; it protects nothing.',
        path: 'spec.selector',
      },
    ]);
  });

  it('reads an empty PDB selector as every pod in policy/v1 and as none in policy/v1beta1', () => {
    expect(objectHits(r, pdb({}, 'shop'), [web])).toEqual([]);
    expect(objectHits(r, pdb({}, 'shop', 'policy/v1beta1'), [web])).toHaveLength(1);
  });

  it("reports a workload whose selector does not match its own template's labels", () => {
    const broken = withSpec(web, { selector: { matchLabels: { app: 'api' } } });
    expect(objectHits(r, broken)).toEqual([
      {
        message: 'Deployment selector does not match its own pod template labels (app=web); the API server rejects it.',
        path: 'spec.selector',
      },
    ]);
    const sts = withSpec(statefulSet({ containers: [healthy()] }), {
      selector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] },
    });
    expect(objectHits(r, sts)).toEqual([]);
    expect(
      objectHits(r, withSpec(daemonSet({ containers: [healthy()] }), { selector: { matchLabels: { x: 'y' } } })),
    ).toHaveLength(1);
  });

  it('ignores other kinds', () => {
    expect(objectHits(r, object('ConfigMap', 'cfg', { data: {} }), [web])).toEqual([]);
  });
});

describe('missing-pdb', () => {
  const r = rule('missing-pdb');
  const web = deployment({ containers: [healthy()] }, { namespace: 'shop' }, 3);

  it('passes a multi-replica workload that a PDB selects', () => {
    expect(runRule(r, web, [pdb({ matchLabels: { app: 'web' } }, 'shop')])).toEqual([]);
  });

  it('reports one step lower when the manifest set has no PDB at all', () => {
    expect(runRule(r, web)).toEqual([
      {
        message:
          'No PodDisruptionBudget in this manifest set covers the 3 replicas; check that one exists in namespace "shop".',
        path: 'spec.template.metadata.labels',
        severity: { nonProduction: 'info', production: 'low' },
      },
    ]);
  });

  it('reports at the rule severity when the set has PDBs but none selects the pods, or on an inventory', () => {
    const expected = [
      {
        message: 'No PodDisruptionBudget in namespace "shop" covers the 3 replicas.',
        path: 'spec.template.metadata.labels',
      },
    ];
    expect(runRule(r, web, [pdb({ matchLabels: { app: 'api' } }, 'shop')])).toEqual(expected);
    expect(runRule(r, web, [pdb({ matchLabels: { app: 'web' } }, 'blog')])).toEqual(expected);
    expect(runRule(r, web, [pdb({}, 'shop', 'policy/v1beta1')])).toEqual(expected);
    expect(runRule(r, web, [], { complete: true })).toEqual(expected);
  });

  it('skips single replicas, DaemonSets and Jobs, and counts StatefulSets', () => {
    expect(runRule(r, deployment({ containers: [healthy()] }, {}, 1))).toEqual([]);
    expect(runRule(r, daemonSet({ containers: [healthy()] }))).toEqual([]);
    expect(runRule(r, job({ containers: [healthy()] }))).toEqual([]);
    expect(runRule(r, statefulSet({ containers: [healthy()] }, {}, 2))).toHaveLength(1);
  });

  it("uses an HPA's minReplicas instead of spec.replicas", () => {
    const one = withoutReplicas(web);
    expect(runRule(r, one, [hpa({ kind: 'Deployment', name: 'web' }, 2, 'shop')])[0]?.message).toContain('2 replicas');
    expect(runRule(r, web, [hpa({ kind: 'Deployment', name: 'web' }, undefined, 'shop')])).toEqual([]);
  });
});

describe('set-level rules through the engine', () => {
  it('reports a Service, a PDB and a replicated Deployment of one manifest set by environment', () => {
    const web = deployment({ containers: [healthy()] }, { namespace: 'shop' }, 3);
    const set = [web, service({ app: 'wbe' }, 'shop'), pdb({ matchLabels: { app: 'api' } }, 'shop')];
    const summary = (environment: 'dev' | 'production') =>
      evaluate(set, { environment, rules: RELIABILITY_RULES }).map((f) => [f.ruleId, f.object.kind, f.severity]);
    expect(summary('production')).toEqual([
      ['missing-pdb', 'Deployment', 'medium'],
      ['selector-mismatch', 'PodDisruptionBudget', 'medium'],
      ['selector-mismatch', 'Service', 'medium'],
    ]);
    expect(summary('dev')).toEqual([
      ['selector-mismatch', 'PodDisruptionBudget', 'medium'],
      ['selector-mismatch', 'Service', 'medium'],
      ['missing-pdb', 'Deployment', 'low'],
    ]);
  });
});

describe('deprecated-api', () => {
  const r = rule('deprecated-api');
  const as = (o: KubeObject, apiVersion: string): KubeObject => ({ ...o, apiVersion });
  const spec = { containers: [healthy()] };

  it('names the replacement and the release that removed it', () => {
    const cases: [KubeObject, string][] = [
      [
        as(deployment(spec), 'extensions/v1beta1'),
        'Deployment extensions/v1beta1 was removed in Kubernetes 1.16; use apps/v1.',
      ],
      [as(statefulSet(spec), 'apps/v1beta1'), 'StatefulSet apps/v1beta1 was removed in Kubernetes 1.16; use apps/v1.'],
      [as(daemonSet(spec), 'apps/v1beta2'), 'DaemonSet apps/v1beta2 was removed in Kubernetes 1.16; use apps/v1.'],
      [as(cronJob(spec), 'batch/v1beta1'), 'CronJob batch/v1beta1 was removed in Kubernetes 1.25; use batch/v1.'],
      [
        pdb({}, undefined, 'policy/v1beta1'),
        'PodDisruptionBudget policy/v1beta1 was removed in Kubernetes 1.25; use policy/v1.',
      ],
      [
        as(hpa({ kind: 'Deployment', name: 'web' }), 'autoscaling/v2beta1'),
        'HorizontalPodAutoscaler autoscaling/v2beta1 was removed in Kubernetes 1.25; use autoscaling/v2.',
      ],
      [
        as(hpa({ kind: 'Deployment', name: 'web' }), 'autoscaling/v2beta2'),
        'HorizontalPodAutoscaler autoscaling/v2beta2 was removed in Kubernetes 1.26; use autoscaling/v2.',
      ],
      [
        { apiVersion: 'networking.k8s.io/v1beta1', kind: 'Ingress', metadata: { name: 'web' } },
        'Ingress networking.k8s.io/v1beta1 was removed in Kubernetes 1.22; use networking.k8s.io/v1.',
      ],
      [
        { apiVersion: 'policy/v1beta1', kind: 'PodSecurityPolicy', metadata: { name: 'restricted' } },
        'PodSecurityPolicy policy/v1beta1 was removed in Kubernetes 1.25; use Pod Security Admission (namespace labels).',
      ],
    ];
    for (const [o, message] of cases) expect(objectHits(r, o)).toEqual([{ message, path: 'apiVersion' }]);
  });

  it('reports other kinds under a removed group version', () => {
    const o = { apiVersion: 'extensions/v1beta1', kind: 'PodSecurityPolicyReview', metadata: { name: 'x' } };
    expect(objectHits(r, o)[0]?.message).toBe(
      'extensions/v1beta1 was removed in Kubernetes 1.22; PodSecurityPolicyReview is not served under it.',
    );
  });

  it('passes current versions and custom resources', () => {
    const current = [
      deployment(spec),
      cronJob(spec),
      pdb({}),
      hpa({ kind: 'Deployment', name: 'web' }),
      service({ app: 'web' }),
      { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web' } },
      { apiVersion: 'example.com/v1beta1', kind: 'Widget', metadata: { name: 'w' } },
    ];
    for (const o of current) expect(objectHits(r, o), `${o.apiVersion} ${o.kind}`).toEqual([]);
  });
});

describe('labelSelectorMatches', () => {
  it('follows matchLabels and every matchExpressions operator', () => {
    const labels = { app: 'web', tier: 'front' };
    expect(labelSelectorMatches({}, labels)).toBe(true);
    expect(labelSelectorMatches({ matchLabels: { app: 'web' } }, labels)).toBe(true);
    expect(labelSelectorMatches({ matchLabels: { app: 'api' } }, labels)).toBe(false);
    const expr = (operator: string, values?: string[]) => ({ matchExpressions: [{ key: 'tier', operator, values }] });
    expect(labelSelectorMatches(expr('In', ['front']), labels)).toBe(true);
    expect(labelSelectorMatches(expr('NotIn', ['front']), labels)).toBe(false);
    expect(labelSelectorMatches(expr('Exists'), labels)).toBe(true);
    expect(labelSelectorMatches(expr('DoesNotExist'), labels)).toBe(false);
    expect(labelSelectorMatches(expr('Gt', ['1']), labels)).toBe(false);
  });
});
