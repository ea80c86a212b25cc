/**
 * Policy engine benchmark (issue 5).
 *
 * Builds a 2,000-pod inventory from 300 distinct pod templates (Deployments, StatefulSets,
 * DaemonSets, Jobs and CronJobs over 10 namespaces, with varied containers: init containers and
 * sidecars, probes or none, requests and limits or none, security contexts, secrets in env,
 * host paths, tags, digests and private registries), plus the Services, PodDisruptionBudgets,
 * HorizontalPodAutoscalers, NetworkPolicies and ServiceAccounts of their namespaces. Then, in one
 * process and one run:
 *
 * 1. Every rule (RULES) on the whole inventory with `evaluate` (related objects complete, as at
 *    runtime). Baseline: `JSON.parse(JSON.stringify(objects))` of the same objects: the least any
 *    server does with an inventory it receives.
 * 2. The same rules on the 2,000 pods as Pod objects (each with its owner's template), the cost
 *    without any caching.
 * 3. The caching pattern the server uses: findings per workload keyed by a stable hash (SHA-1 of
 *    the canonical JSON) of the environment, the workload object and, for rules that read related
 *    objects, a digest of the namespace's related objects. Cold (every key computed, every
 *    workload evaluated), warm (nothing changed: keys only), and 10 templates changed.
 *
 * Appends a dated section to bench/RESULTS.md. Run: `npm run bench:policy`.
 * `NIRO_BENCH_QUICK=1` runs fewer rounds and records nothing.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  RULES,
  evaluate,
  evaluateWorkload,
  namespaceOf,
  relatedObjects,
  toWorkload,
  type Environment,
  type Finding,
  type KubeObject,
  type RelatedObjects,
  type Workload,
} from '@niro/policy';
import { canonicalJson } from '@niro/protocol/inventory-hash';
import { formatLoad, machineLine } from './machine.js';

const QUICK = process.env.NIRO_BENCH_QUICK === '1';
const ROUNDS = QUICK ? 10 : 60;
const WARMUP = QUICK ? 3 : 10;
const TEMPLATES = 300;
const PODS = 2000;
const NAMESPACES = 10;
const CHANGED = 10;
const ENVIRONMENT: Environment = 'production';
const TARGET_MS = 50;

const here = path.dirname(fileURLToPath(import.meta.url));
const startLoad = os.loadavg();

/** A small deterministic generator, so every run measures the same inventory. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const rand = random(5);
const pick = <T>(items: readonly T[]): T => {
  const item = items[Math.floor(rand() * items.length)];
  if (item === undefined) throw new Error('empty list');
  return item;
};
const chance = (p: number): boolean => rand() < p;

const IMAGES = [
  'nginx',
  'nginx:latest',
  'nginx:1.27.3',
  'docker.io/library/redis:7.4',
  'bitnami/postgresql:16',
  'ghcr.io/acme/api:2.3.1',
  'ghcr.io/acme/worker@sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
  '123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/cart:5.1',
  'quay.io/prometheus/node-exporter:v1.8.2',
  'registry.example.com:5000/team/app:1.0.0',
];

function container(name: string, index: number): Record<string, unknown> {
  const c: Record<string, unknown> = { name: `${name}-${index}`, image: pick(IMAGES) };
  if (chance(0.7)) c.ports = [{ name: 'http', containerPort: 8080 + index }];
  if (chance(0.6)) c.readinessProbe = { httpGet: { path: '/ready', port: chance(0.9) ? 'http' : 9999 } };
  if (chance(0.5)) c.livenessProbe = { tcpSocket: { port: 8080 + index } };
  if (chance(0.7)) {
    c.resources = {
      requests: { cpu: '100m', memory: '128Mi' },
      ...(chance(0.6) ? { limits: { memory: '256Mi', ...(chance(0.3) ? { cpu: '500m' } : {}) } } : {}),
    };
  }
  if (chance(0.6)) {
    c.securityContext = {
      runAsNonRoot: chance(0.7),
      allowPrivilegeEscalation: chance(0.2),
      readOnlyRootFilesystem: chance(0.5),
      ...(chance(0.1) ? { privileged: true } : {}),
      capabilities: chance(0.8) ? { drop: ['ALL'] } : { add: [pick(['NET_ADMIN', 'SYS_ADMIN', 'NET_BIND_SERVICE'])] },
    };
  }
  if (chance(0.5)) {
    c.env = [
      { name: 'LOG_LEVEL', value: 'info' },
      ...(chance(0.3) ? [{ name: 'DB_PASSWORD', value: 'hunter2' }] : []),
      ...(chance(0.5) ? [{ name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } }] : []),
    ];
  }
  if (chance(0.3)) c.volumeMounts = [{ name: 'data', mountPath: '/data' }];
  return c;
}

function podSpec(name: string, job: boolean): Record<string, unknown> {
  const count = 1 + Math.floor(rand() * 3);
  const spec: Record<string, unknown> = {
    containers: Array.from({ length: count }, (_, i) => container(name, i)),
  };
  if (chance(0.3))
    spec.initContainers = [{ ...container(`${name}-init`, 0), ...(chance(0.4) ? { restartPolicy: 'Always' } : {}) }];
  if (job) spec.restartPolicy = 'OnFailure';
  if (chance(0.5)) spec.serviceAccountName = `${name}-sa`;
  if (chance(0.3)) spec.imagePullSecrets = [{ name: 'registry' }];
  if (chance(0.5)) spec.securityContext = { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } };
  if (chance(0.05)) spec.hostNetwork = true;
  spec.volumes = [chance(0.1) ? { name: 'data', hostPath: { path: '/var/lib/data' } } : { name: 'data', emptyDir: {} }];
  return spec;
}

type Inventory = { workloads: KubeObject[]; others: KubeObject[]; pods: KubeObject[] };

function buildInventory(): Inventory {
  const kinds = ['Deployment', 'Deployment', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'] as const;
  const workloads: KubeObject[] = [];
  const others: KubeObject[] = [];
  // Replicas to give: 2,000 pods over the templates (DaemonSets run on 3 nodes, Jobs one pod each).
  const replicas: number[] = [];
  for (let i = 0; i < TEMPLATES; i++) {
    const namespace = `team-${i % NAMESPACES}`;
    const name = `app-${i}`;
    const kind = pick(kinds);
    const labels = { app: name, tier: pick(['web', 'worker', 'data']) };
    const template = { metadata: { labels }, spec: podSpec(name, kind === 'Job' || kind === 'CronJob') };
    const metadata = { name, namespace, labels };
    let object: KubeObject;
    if (kind === 'CronJob') {
      object = {
        apiVersion: 'batch/v1',
        kind,
        metadata,
        spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template } } },
      };
      replicas.push(1);
    } else if (kind === 'Job') {
      object = { apiVersion: 'batch/v1', kind, metadata, spec: { template } };
      replicas.push(1);
    } else if (kind === 'DaemonSet') {
      object = { apiVersion: 'apps/v1', kind, metadata, spec: { selector: { matchLabels: labels }, template } };
      replicas.push(3);
    } else {
      const n = chance(0.3) ? 1 : 2 + Math.floor(rand() * 12);
      object = {
        apiVersion: 'apps/v1',
        kind,
        metadata,
        spec: {
          replicas: n,
          selector: { matchLabels: labels },
          template,
          ...(kind === 'StatefulSet' ? { serviceName: name } : {}),
          ...(chance(0.1) ? { revisionHistoryLimit: 0 } : {}),
        },
      };
      replicas.push(n);
    }
    workloads.push(object);
    if (kind !== 'Job' && kind !== 'CronJob' && chance(0.7)) {
      others.push({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace },
        spec: {
          selector: chance(0.95) ? { app: name } : { app: `${name}-typo` },
          ports: [{ port: 80, targetPort: 'http' }],
        },
      });
    }
    if (chance(0.3)) {
      others.push({
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name, namespace },
        spec: { minAvailable: 1, selector: { matchLabels: { app: name } } },
      });
    }
    if (kind === 'Deployment' && chance(0.2)) {
      others.push({
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name, namespace },
        spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind, name }, minReplicas: 2, maxReplicas: 10 },
      });
    }
    if (chance(0.5)) {
      others.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `${name}-sa`, namespace } });
    }
  }
  for (let n = 0; n < NAMESPACES; n += 2) {
    others.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'default-deny', namespace: `team-${n}` },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    });
  }
  // Scale the replicas so the inventory holds exactly PODS pods.
  const total = replicas.reduce((a, b) => a + b, 0);
  const pods: KubeObject[] = [];
  workloads.forEach((object, i) => {
    const workload = toWorkload(object);
    if (workload === undefined) throw new Error(`not a workload: ${object.metadata.name}`);
    const count = Math.max(1, Math.round(((replicas[i] ?? 1) * PODS) / total));
    for (let p = 0; p < count && pods.length < PODS; p++) {
      pods.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${object.metadata.name}-${p}`,
          namespace: namespaceOf(object),
          labels: workload.podLabels,
          ownerReferences: [{ kind: object.kind, name: object.metadata.name }],
        },
        spec: workload.podSpec,
      });
    }
  });
  while (pods.length < PODS) {
    const last = pods[pods.length % TEMPLATES];
    if (last === undefined) break;
    pods.push({ ...last, metadata: { ...last.metadata, name: `${last.metadata.name}-x${pods.length}` } });
  }
  return { workloads, others, pods };
}

/** Median and p90 of `rounds` timed runs after `warmup` untimed ones. */
function time(label: string, fn: () => unknown, rounds = ROUNDS, warmup = WARMUP): Timing {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
  const timing = { label, p50: at(0.5), p90: at(0.9), min: samples[0] ?? 0, rounds };
  console.log(`${label}: p50 ${timing.p50.toFixed(2)} ms, p90 ${timing.p90.toFixed(2)} ms`);
  return timing;
}

type Timing = { label: string; p50: number; p90: number; min: number; rounds: number };

const sha1 = (...parts: string[]): string => {
  const hash = createHash('sha1');
  for (const part of parts) hash.update(part).update('\n');
  return hash.digest('base64');
};

const RELATED_KINDS = new Set(RULES.flatMap((rule) => rule.needs ?? []));

/**
 * The server's pattern: findings per workload, re-evaluated only when its key changes. The key
 * covers what the findings depend on: the environment, the workload object and, since some rules
 * read them, the namespace's related objects.
 */
class FindingsCache {
  private readonly entries = new Map<string, { key: string; findings: Finding[] }>();
  evaluated = 0;

  findings(workloads: readonly KubeObject[], related: RelatedObjects, environment: Environment): Finding[] {
    const digests = new Map<string, string>();
    const digestOf = (namespace: string): string => {
      let digest = digests.get(namespace);
      if (digest === undefined) {
        const objects = [...RELATED_KINDS].flatMap((kind) => related.inNamespace(kind, namespace));
        digest = sha1(canonicalJson(objects));
        digests.set(namespace, digest);
      }
      return digest;
    };
    const out: Finding[] = [];
    for (const object of workloads) {
      const id = `${object.kind}/${namespaceOf(object)}/${object.metadata.name}`;
      const key = sha1(environment, canonicalJson(object), digestOf(namespaceOf(object)));
      let entry = this.entries.get(id);
      if (entry?.key !== key) {
        const workload: Workload | undefined = toWorkload(object);
        const findings = workload === undefined ? [] : evaluateWorkload(workload, related, environment, RULES);
        entry = { key, findings };
        this.entries.set(id, entry);
        this.evaluated++;
      }
      out.push(...entry.findings);
    }
    return out;
  }
}

function main(): void {
  const started = performance.now();
  const { workloads, others, pods } = buildInventory();
  const objects = [...workloads, ...others];
  const related = relatedObjects(objects, true);
  const podRelated = relatedObjects([...pods, ...others], true);
  const json = JSON.stringify(objects);
  const podJson = JSON.stringify(pods);
  console.log(
    `${workloads.length} workloads (${pods.length} pods), ${others.length} related objects; ${(json.length / 1024).toFixed(0)} KiB of JSON`,
  );

  const findings = evaluate(objects, { environment: ENVIRONMENT, related });
  const byRule = new Map<string, number>();
  for (const f of findings) byRule.set(f.ruleId, (byRule.get(f.ruleId) ?? 0) + 1);
  const podFindings = evaluate(pods, { environment: ENVIRONMENT, related: podRelated });

  const full = time('evaluate inventory (all rules)', () => evaluate(objects, { environment: ENVIRONMENT, related }));
  const fullDev = time('evaluate inventory (all rules, dev)', () => evaluate(objects, { environment: 'dev', related }));
  const baseline = time('baseline JSON.parse(JSON.stringify(objects))', () => JSON.parse(JSON.stringify(objects)));
  const podsTiming = time('evaluate 2,000 pods (all rules, no cache)', () =>
    evaluate(pods, { environment: ENVIRONMENT, related: podRelated }),
  );
  const podsBaseline = time('baseline JSON.parse(JSON.stringify(pods))', () => JSON.parse(JSON.stringify(pods)));

  // Cached: cold, warm and with a few templates changed (a new image tag each round).
  const coldRounds = Math.max(5, Math.floor(ROUNDS / 4));
  const cold = time(
    'cache cold (keys + evaluate every workload)',
    () => new FindingsCache().findings(workloads, related, ENVIRONMENT),
    coldRounds,
    2,
  );
  const cache = new FindingsCache();
  const cachedFindings = cache.findings(workloads, related, ENVIRONMENT);
  const perWorkload = findings.filter((f) =>
    workloads.some((w) => w.metadata.name === f.object.name && w.kind === f.object.kind),
  );
  if (cachedFindings.length !== perWorkload.length) {
    throw new Error(`cached findings ${cachedFindings.length} differ from evaluate's ${perWorkload.length}`);
  }
  const before = cache.evaluated;
  const warm = time('cache warm (nothing changed: keys only)', () => cache.findings(workloads, related, ENVIRONMENT));
  if (cache.evaluated !== before) throw new Error('a warm round evaluated workloads');
  let round = 0;
  const changed = time(`cache, ${CHANGED} templates changed`, () => {
    round++;
    const next = workloads.map((object, i) => {
      if (i % Math.floor(TEMPLATES / CHANGED) !== 0) return object;
      const copy = structuredClone(object);
      const workload = toWorkload(copy);
      const first = workload?.podSpec.containers;
      if (Array.isArray(first) && typeof first[0] === 'object' && first[0] !== null) {
        Object.assign(first[0], { image: `registry.example.com/changed:${round}` });
      }
      return copy;
    });
    return cache.findings(next, related, ENVIRONMENT);
  });
  const keysOnly = time('keys only: sha1(canonicalJson) of every workload', () => {
    for (const object of workloads) sha1(ENVIRONMENT, canonicalJson(object));
  });

  const seconds = (performance.now() - started) / 1000;
  const section = report({
    workloads: workloads.length,
    pods: pods.length,
    others: others.length,
    jsonKiB: json.length / 1024,
    podJsonKiB: podJson.length / 1024,
    findings: findings.length,
    podFindings: podFindings.length,
    byRule,
    full,
    fullDev,
    baseline,
    podsTiming,
    podsBaseline,
    cold,
    warm,
    changed,
    keysOnly,
    seconds,
  });
  if (QUICK) {
    console.log(section);
    console.log('NIRO_BENCH_QUICK: not recorded');
    return;
  }
  fs.appendFileSync(path.join(here, 'RESULTS.md'), section);
  console.log(section);
  console.log('appended to bench/RESULTS.md');
}

type Figures = {
  workloads: number;
  pods: number;
  others: number;
  jsonKiB: number;
  podJsonKiB: number;
  findings: number;
  podFindings: number;
  byRule: Map<string, number>;
  full: Timing;
  fullDev: Timing;
  baseline: Timing;
  podsTiming: Timing;
  podsBaseline: Timing;
  cold: Timing;
  warm: Timing;
  changed: Timing;
  keysOnly: Timing;
  seconds: number;
};

function report(f: Figures): string {
  const ms = (x: number): string => `${x.toFixed(2)} ms`;
  const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(1)}×` : '–');
  const row = (t: Timing, n: string, vs: string): string =>
    `| ${t.label} | ${n} | ${ms(t.p50)} | ${ms(t.p90)} | ${vs} |`;
  const goal = f.full.p50 < TARGET_MS ? 'met' : 'missed';
  const rules = [...f.byRule.entries()].sort((a, b) => b[1] - a[1]).map(([id, n]) => `${id} ${n}`);
  return [
    '',
    `## ${new Date().toISOString()} — policy engine on a ${f.pods.toLocaleString('en')}-pod inventory (\`npm run bench:policy\`)`,
    '',
    `- ${machineLine()}`,
    `- Load average at the start (1/5/15 min): ${formatLoad(startLoad)}; at the end: ${formatLoad(os.loadavg())}. Other work on the machine slows every row alike: compare rows of one section.`,
    `- Inventory: ${f.workloads} workloads with distinct pod templates (Deployments, StatefulSets, DaemonSets,`,
    `  Jobs, CronJobs over ${NAMESPACES} namespaces; 1–3 containers, some init containers and sidecars) running`,
    `  ${f.pods} pods, and ${f.others} related objects (Services, PDBs, HPAs, NetworkPolicies, ServiceAccounts);`,
    `  ${f.jsonKiB.toFixed(0)} KiB of JSON (the pods as Pod objects: ${f.podJsonKiB.toFixed(0)} KiB). All ${RULES.length} rules,`,
    `  environment ${ENVIRONMENT}, related objects complete. ${f.findings} findings on the inventory (${f.podFindings} on the pods).`,
    `- Each row: p50 and p90 of ${ROUNDS} rounds after ${WARMUP} warm-up rounds (cold cache: fewer), one process.`,
    '- Cache: findings per workload under key = SHA-1 of environment + canonical JSON of the workload object +',
    "  a digest of its namespace's related objects (what rules with `needs` read); the server keys the same way.",
    '',
    '| measure | objects | p50 | p90 | against |',
    '|---|---:|---:|---:|---|',
    row(f.full, `${f.workloads + f.others}`, `${ratio(f.full.p50, f.baseline.p50)} the baseline`),
    row(f.fullDev, `${f.workloads + f.others}`, '–'),
    row(f.baseline, `${f.workloads + f.others}`, '–'),
    row(f.podsTiming, `${f.pods + f.others}`, `${ratio(f.podsTiming.p50, f.podsBaseline.p50)} its baseline`),
    row(f.podsBaseline, `${f.pods}`, '–'),
    row(f.cold, `${f.workloads}`, `${ratio(f.cold.p50, f.full.p50)} the full evaluation`),
    row(f.warm, `${f.workloads}`, `${ratio(f.warm.p50, f.full.p50)} the full evaluation`),
    row(f.changed, `${f.workloads}`, `${ratio(f.changed.p50, f.full.p50)} the full evaluation`),
    row(f.keysOnly, `${f.workloads}`, '–'),
    '',
    `- Target: all rules on the inventory in < ${TARGET_MS} ms: **${goal}** (p50 ${ms(f.full.p50)}, p90 ${ms(f.full.p90)}).`,
    `- Findings by rule: ${rules.join(', ')}.`,
    '',
    `Run time ${f.seconds.toFixed(0)} s.`,
    '',
  ].join('\n');
}

main();
