import { describe, expect, it } from 'vitest';
import type { KubeObject, Rule, RuleHit } from '../types.js';
import { evaluate } from '../engine.js';
import { containersOf, relatedObjects, toWorkload } from '../workloads.js';
import { EFFICIENCY_RULES } from './efficiency.js';
import { container, cronJob, deployment, job, pod, ruleIn, statefulSet } from './test-support/rules-fixtures.js';

const rule = (id: string) => ruleIn(EFFICIENCY_RULES, id);

/** Runs a workload rule on `target` through the real parsing of the object. */
function runRule(r: Rule, target: KubeObject): RuleHit[] {
  const workload = toWorkload(target);
  if (!workload || !r.check) throw new Error(`cannot run ${r.id} on ${target.kind}`);
  return r.check({
    workload,
    containers: containersOf(workload),
    related: relatedObjects([target], false),
    environment: 'production',
  });
}

const FULL = { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } };

function sized(name: string, resources: Record<string, unknown> = FULL): Record<string, unknown> {
  return container(name, { resources });
}

describe('efficiency catalogue', () => {
  it('has the two rules with ids, texts, reads and severity pairs', () => {
    expect(EFFICIENCY_RULES.map((r) => r.id)).toEqual(['missing-requests', 'missing-limits']);
    for (const r of EFFICIENCY_RULES) {
      expect(r.category).toBe('efficiency');
      expect(r.title.length).toBeGreaterThan(5);
      expect(r.description.length).toBeGreaterThan(80);
      expect(r.fix.length).toBeGreaterThan(20);
      expect(r.reads.length).toBeGreaterThan(0);
      expect(r.check).toBeTypeOf('function');
      expect(r.severity).toEqual({ nonProduction: 'medium', production: 'medium' });
    }
  });
});

describe('missing-requests', () => {
  const r = rule('missing-requests');

  it('passes a container with CPU and memory requests', () => {
    expect(runRule(r, deployment({ containers: [sized('api')] }))).toEqual([]);
  });

  it('reports each missing resource of each container, with its path', () => {
    const spec = { containers: [container('api'), sized('cache', { requests: { cpu: '50m' } })] };
    expect(runRule(r, deployment(spec))).toEqual([
      {
        message: 'container api has no CPU request.',
        container: 'api',
        path: 'spec.template.spec.containers[0].resources.requests.cpu',
      },
      {
        message: 'container api has no memory request.',
        container: 'api',
        path: 'spec.template.spec.containers[0].resources.requests.memory',
      },
      {
        message: 'container cache has no memory request.',
        container: 'cache',
        path: 'spec.template.spec.containers[1].resources.requests.memory',
      },
    ]);
  });

  it('counts a limit as the request Kubernetes derives from it', () => {
    expect(runRule(r, deployment({ containers: [sized('api', { limits: { cpu: '1', memory: '1Gi' } })] }))).toEqual([]);
    expect(runRule(r, deployment({ containers: [sized('api', { requests: { cpu: '', memory: '64Mi' } })] }))).toEqual([
      expect.objectContaining({ message: 'container api has no CPU request.' }),
    ]);
  });

  it('checks init containers and sidecars, and says which they are', () => {
    const spec = {
      initContainers: [
        sized('migrate', { requests: { cpu: '100m' } }),
        container('proxy', { restartPolicy: 'Always', resources: { requests: { memory: '32Mi' } } }),
      ],
      containers: [sized('api')],
    };
    expect(runRule(r, statefulSet(spec))).toEqual([
      {
        message: 'init container migrate has no memory request.',
        container: 'migrate',
        path: 'spec.template.spec.initContainers[0].resources.requests.memory',
      },
      {
        message: 'sidecar init container proxy has no CPU request.',
        container: 'proxy',
        path: 'spec.template.spec.initContainers[1].resources.requests.cpu',
      },
    ]);
  });

  it('checks Jobs, CronJobs and Pods but not ephemeral containers', () => {
    expect(runRule(r, job({ containers: [container('task')] }))).toHaveLength(2);
    expect(runRule(r, cronJob({ containers: [container('task')] }))[0]?.path).toBe(
      'spec.jobTemplate.spec.template.spec.containers[0].resources.requests.cpu',
    );
    expect(runRule(r, pod({ containers: [sized('app')], ephemeralContainers: [container('debug')] }))).toEqual([]);
  });
});

describe('missing-limits', () => {
  const r = rule('missing-limits');

  it('passes a container with memory and CPU limits', () => {
    expect(runRule(r, deployment({ containers: [sized('api')] }))).toEqual([]);
  });

  it('reports a missing memory limit at the rule severity', () => {
    const c = sized('api', { requests: FULL.requests, limits: { cpu: '1' } });
    expect(runRule(r, deployment({ containers: [c] }))).toEqual([
      {
        message: 'container api has no memory limit.',
        container: 'api',
        path: 'spec.template.spec.containers[0].resources.limits.memory',
      },
    ]);
  });

  it('reports a missing CPU limit as info in every environment', () => {
    const c = sized('api', { requests: FULL.requests, limits: { memory: '256Mi' } });
    expect(runRule(r, deployment({ containers: [c] }))).toEqual([
      {
        message: 'container api has no CPU limit (informational: it can use idle CPU of the node).',
        container: 'api',
        path: 'spec.template.spec.containers[0].resources.limits.cpu',
        severity: { nonProduction: 'info', production: 'info' },
      },
    ]);
  });

  it('checks every container of a multi-container pod and init containers', () => {
    const spec = { initContainers: [container('migrate')], containers: [sized('api'), container('worker')] };
    const hits = runRule(r, deployment(spec)).sort((a, b) => (a.path ?? '').localeCompare(b.path ?? ''));
    expect(hits.map((h) => [h.container, h.path, h.severity?.production ?? 'rule'])).toEqual([
      ['worker', 'spec.template.spec.containers[1].resources.limits.cpu', 'info'],
      ['worker', 'spec.template.spec.containers[1].resources.limits.memory', 'rule'],
      ['migrate', 'spec.template.spec.initContainers[0].resources.limits.cpu', 'info'],
      ['migrate', 'spec.template.spec.initContainers[0].resources.limits.memory', 'rule'],
    ]);
    expect(hits[3]?.message).toBe('init container migrate has no memory limit.');
  });

  it('keeps the CPU limit at info in production through the engine', () => {
    const c = container('api', { resources: { requests: FULL.requests } });
    const findings = evaluate([deployment({ containers: [c] })], {
      environment: 'production',
      rules: EFFICIENCY_RULES,
    });
    expect(findings.map((f) => [f.ruleId, f.severity, f.path])).toEqual([
      ['missing-limits', 'medium', 'spec.template.spec.containers[0].resources.limits.memory'],
      ['missing-limits', 'info', 'spec.template.spec.containers[0].resources.limits.cpu'],
    ]);
  });
});
