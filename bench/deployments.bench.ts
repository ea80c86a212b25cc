/**
 * Deployments benchmark (issue 8): what managed deployments cost the server, each figure against a
 * baseline measured in the same run.
 *
 * 1. Heartbeats under the rollout watch: a fleet of FLEET pairs of clusters (10 nodes, 100 pods +
 *    15 rollout pods each). Both clusters of a pair hold the same inventory; one of them (`with`)
 *    has 5 deployments created through the API from YAML, applied, the apply answered by the
 *    simulated agent with generations, so their rollouts stay `progressing` (1 of 3 replicas
 *    updated); the other (`base`) has none. Steady-state `same` heartbeats (fresh usage), one in
 *    flight per cluster, through `app.inject()`, the two sets in turn (base, with, with, base).
 *    The same again for a few 50-node/2,000-pod pairs.
 * 2. The apply path: `POST /api/v1/deployments/{id}/apply` of a builder deployment against
 *    `POST /api/v1/clusters/{id}/commands` (a plain apply with the same manifests) and
 *    `POST /api/v1/policy/evaluate` of them, interleaved; the agent answers between rounds.
 * 3. rolloutProgress() on 1,000 workloads / 10,000 pods against a loop counting the namespace's pods.
 * 4. `GET /api/v1/deployments` with the fleet's 1,000 deployments, against the list's own SELECT
 *    (repository, no HTTP) and `GET /api/v1/clusters`; SQL statements per request counted.
 *
 * The real server runs in this process (SQLite, then PostgreSQL when
 * postgres://postgres@127.0.0.1:54329/postgres answers). Appends a dated section to
 * bench/RESULTS.md. Run: `npm run bench:deployments`. `NIRO_BENCH_DB=sqlite` or `postgres`: that
 * database only. `NIRO_BENCH_QUICK=1`: a small fleet, nothing recorded.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DefaultQueryExecutor, type CompiledQuery, type QueryResult } from 'kysely';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import { buildManifests } from '@niro/builder';
import { MANIFEST_LIMITS, parseManifests } from '@niro/policy';
import {
  Pod,
  type Capabilities,
  type CreateClusterResponse,
  type Deployment,
  type DeploymentForm,
  type DeploymentList,
  type DeploymentRevision,
  type EnrollRequest,
  type EnrollResponse,
  type LongPollReply,
  type ObjectResult,
  type Workload,
} from '@niro/protocol';
import { createLogger, startServer, type RunningServer } from '@niro/server';
import {
  buildDeltaHeartbeat,
  buildFullHeartbeat,
  buildSameHeartbeat,
  createRng,
  generateClusterInventory,
  generateUsage,
  type ClusterInventory,
} from '@niro/testkit';
import { ClustersRepository } from '../apps/server/src/modules/clusters/clusters.repository.js';
import { DeploymentsRepository } from '../apps/server/src/modules/deployments/deployments.repository.js';
import { InventoryReader } from '../apps/server/src/modules/deployments/inventory-reader.js';
import { rolloutProgress, type ExpectedWorkload } from '../apps/server/src/modules/deployments/rollout.js';
import { percentiles, pool, type Percentiles } from './commands-fleet.js';
import { formatLoad, machineLine } from './machine.js';
import { runOnSqliteThenPostgres } from './postgres-database.js';

const QUICK = process.env.NIRO_BENCH_QUICK === '1';
const NS = 'bench';
const PER_CLUSTER = 5;
const VARIANTS = 4;
const PHASE_SECONDS = QUICK ? 0.6 : 1.5;
const WARMUP_SECONDS = QUICK ? 0.3 : 0.5;
const ROUNDS = 2;
const SETUP_CONCURRENCY = 8;
const FLEETS: FleetSpec[] = [
  { key: 'fleet', label: '10 nodes / 115 pods', nodes: 10, pods: 100, pairs: QUICK ? 20 : 200 },
  { key: 'large', label: '50 nodes / 2,015 pods', nodes: 50, pods: 2000, pairs: QUICK ? 2 : 8 },
];
const APPLY_CLUSTERS = QUICK ? 4 : 10;
const APPLY_ROUNDS = QUICK ? 5 : 20;
const LIST_REQUESTS = QUICK ? 5 : 10;
const CAPABILITIES: Capabilities = { pods: true, logs: true, apply: true, selfUpdate: false };

type FleetSpec = { key: string; label: string; nodes: number; pods: number; pairs: number };
type Agent = { clusterId: string; agentKey: string };
type Rate = {
  perSecond: number;
  latency: Percentiles;
  statementsPerHeartbeat: number;
};
type FleetFigures = {
  spec: FleetSpec;
  deployments: number;
  base: Rate;
  with: Rate;
  progressingAfter: number;
  readMs: number;
  parseMs: number;
  checkMs: number;
  compiledCheckMs: number;
  progressMs: number;
  heldPods: number;
};
type ListFigures = {
  deployments: number;
  returned: number;
  bytes: number;
  list: Percentiles;
  select: Percentiles;
  clusters: Percentiles;
  clusterCount: number;
  statements: number;
  shapes: [string, number][];
};
type ApplyFigures = {
  apply: Percentiles;
  plain: Percentiles;
  evaluate: Percentiles;
  applyStatements: number;
  applyShapes: [string, number][];
  plainStatements: number;
  manifestBytes: number;
  objects: number;
  findings: number;
  buildMs: number;
  parseMs: number;
};
type RunFigures = {
  label: string;
  setupSeconds: number;
  fleets: FleetFigures[];
  list: ListFigures;
  apply: ApplyFigures;
  finalList: { total: number; returned: number };
};

// ---------------------------------------------------------------------------------------------
// SQL statements, counted at Kysely's executor (every repository's queries go through it).

const statements = { count: 0, shapes: null as Map<string, number> | null };

function countStatements(): void {
  const proto = DefaultQueryExecutor.prototype;
  const base = Object.getPrototypeOf(proto) as {
    executeQuery<R>(this: DefaultQueryExecutor, query: CompiledQuery): Promise<QueryResult<R>>;
  };
  const execute = base.executeQuery;
  proto.executeQuery = function <R>(this: DefaultQueryExecutor, query: CompiledQuery): Promise<QueryResult<R>> {
    statements.count++;
    if (statements.shapes !== null) {
      const shape = shapeOf(query.sql);
      statements.shapes.set(shape, (statements.shapes.get(shape) ?? 0) + 1);
    }
    return execute.call<DefaultQueryExecutor, [CompiledQuery], Promise<QueryResult<R>>>(this, query);
  };
}

/** `select … from deployments`, `update clusters`: the verb and the first table. */
function shapeOf(text: string): string {
  const flat = text.replace(/\s+/g, ' ').replace(/"/g, '').trim();
  const verb = (/^\w+/.exec(flat)?.[0] ?? '?').toLowerCase();
  const table = /\b(?:from|into|update)\s+([a-z_]+)/i.exec(flat)?.[1] ?? '?';
  const joins = [...flat.matchAll(/\bjoin\s+([a-z_]+)/gi)].map((m) => m[1]);
  return `${verb} ${table}${joins.length > 0 ? ` ⋈ ${joins.join(', ')}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Server, API and simulated agents

type Api = {
  server: RunningServer;
  token: string;
  call<T>(method: 'GET' | 'POST', url: string, payload?: object): Promise<{ body: T; bytes: number }>;
};

function apiOf(server: RunningServer, token: string): Api {
  return {
    server,
    token,
    async call<T>(method: 'GET' | 'POST', url: string, payload?: object) {
      const res = await server.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}` },
        ...(payload === undefined ? {} : { payload }),
      });
      if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body.slice(0, 400)}`);
      return { body: res.json<T>(), bytes: res.rawPayload.length };
    },
  };
}

async function createClusters(api: Api, prefix: string, count: number): Promise<Agent[]> {
  const out = new Array<Agent>(count);
  await pool(count, SETUP_CONCURRENCY, async (i) => {
    const { body } = await api.call<CreateClusterResponse>('POST', '/api/v1/clusters', {
      name: `${prefix}-${i}`,
      environment: 'production',
    });
    const request: EnrollRequest = {
      token: body.enrollment.token,
      agent: { version: '0.1.0' },
      cluster: { kubernetesVersion: 'v1.31.4+k3s1', distribution: 'k3s', uid: `uid-${body.cluster.id}` },
    };
    const enrolled = await api.server.app.inject({ method: 'POST', url: '/api/agent/v1/enroll', payload: request });
    if (enrolled.statusCode !== 200) throw new Error(`enrollment failed: ${enrolled.statusCode} ${enrolled.body}`);
    out[i] = { clusterId: body.cluster.id, agentKey: enrolled.json<EnrollResponse>().agentKey };
  });
  return out;
}

async function sendHeartbeat(server: RunningServer, agentKey: string, body: string): Promise<void> {
  const res = await server.app.inject({
    method: 'POST',
    url: '/api/agent/v1/heartbeat',
    headers: { authorization: `Bearer ${agentKey}`, 'content-type': 'application/json' },
    payload: body,
  });
  if (res.statusCode !== 200) throw new Error(`heartbeat failed: ${res.statusCode} ${res.body.slice(0, 300)}`);
  if (res.body.includes('resendFull')) throw new Error(`unexpected resendFull: ${res.body}`);
}

/** What the agent answers to an apply: every object configured, Deployments at `generation`. */
function appliedObjects(payload: unknown, generation: number): ObjectResult[] {
  const manifests =
    typeof payload === 'object' && payload !== null && 'manifests' in payload && typeof payload.manifests === 'string'
      ? payload.manifests
      : '';
  return parseManifests(manifests).objects.map((o) => ({
    kind: o.kind,
    namespace: NS,
    name: o.metadata.name,
    action: 'configured',
    ...(o.kind === 'Deployment' ? { generation } : {}),
  }));
}

/** Takes every waiting command of the cluster over the long-poll route and answers it succeeded. */
async function agentAnswers(server: RunningServer, agent: Agent, generation: number): Promise<number> {
  const headers = { authorization: `Bearer ${agent.agentKey}` };
  let answered = 0;
  for (;;) {
    const res = await server.app.inject({ method: 'GET', url: '/api/agent/v1/commands', headers });
    if (res.statusCode !== 200) throw new Error(`poll failed: ${res.statusCode} ${res.body}`);
    const { commands } = res.json<LongPollReply>();
    if (commands.length === 0) return answered;
    for (const command of commands) {
      const done = await server.app.inject({
        method: 'POST',
        url: `/api/agent/v1/commands/${command.id}/result`,
        headers,
        payload: { status: 'succeeded', result: { objects: appliedObjects(command.payload, generation) } },
      });
      if (done.statusCode !== 200) throw new Error(`result failed: ${done.statusCode} ${done.body}`);
      answered++;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Heartbeats under the rollout watch

const yamlOf = (name: string): string =>
  [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  replicas: 3',
    // Long enough that no rollout stalls during the run.
    '  progressDeadlineSeconds: 3600',
    `  selector: { matchLabels: { app: ${name} } }`,
    '  template:',
    `    metadata: { labels: { app: ${name} } }`,
    '    spec:',
    '      containers:',
    `        - name: ${name}`,
    `          image: registry.example.com/shop/${name}:1.4.2`,
    '          resources: { requests: { cpu: 50m, memory: 64Mi }, limits: { memory: 128Mi } }',
    '          readinessProbe: { httpGet: { path: /healthz, port: 8080 } }',
    '---',
    'apiVersion: v1',
    'kind: Service',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  selector: { app: ${name} }`,
    '  ports: [{ port: 80, targetPort: 8080 }]',
    '',
  ].join('\n');

function rolloutPod(app: string, i: number, ready: boolean): Pod {
  return {
    namespace: NS,
    name: `${app}-7d9f8c6b5-${i}x2k4`,
    uid: `uid-${app}-${i}`,
    phase: ready ? 'Running' : 'Pending',
    owner: { kind: 'Deployment', name: app },
    imagePullSecrets: [],
    containers: [
      {
        name: app,
        image: `registry.example.com/shop/${app}:1.4.2`,
        ready,
        restarts: 0,
        state: ready ? 'running' : 'waiting',
        ...(ready ? {} : { reason: 'ContainerCreating' }),
        requests: { cpuMilli: 50, memoryBytes: 64 * 2 ** 20 },
        limits: { memoryBytes: 128 * 2 ** 20 },
        probes: { liveness: false, readiness: true, startup: false },
        privileged: false,
      },
    ],
  };
}

/** The inventory plus the 5 deployments' workloads mid-rollout (1 of 3 replicas updated and ready). */
function withRollouts(inv: ClusterInventory, ids: readonly (string | undefined)[]): ClusterInventory {
  const workloads: Workload[] = Array.from(ids, (deploymentId, i) => ({
    kind: 'Deployment',
    namespace: NS,
    name: `app-${i}`,
    replicas: 3,
    readyReplicas: 1,
    updatedReplicas: 1,
    availableReplicas: 1,
    generation: 1,
    observedGeneration: 1,
    template: {},
    ...(deploymentId === undefined ? {} : { deploymentId }),
  }));
  const pods = Array.from(ids, (_, i) => [0, 1, 2].map((r) => rolloutPod(`app-${i}`, r, r === 0))).flat();
  return { nodes: inv.nodes, workloads: [...inv.workloads, ...workloads], pods: [...inv.pods, ...pods] };
}

type Fleet = { base: Agent[]; with: Agent[]; bodies: Map<string, string[]>; deployments: number };

async function setupFleet(api: Api, spec: FleetSpec): Promise<Fleet> {
  const { server } = api;
  const base = await createClusters(api, `${spec.key}-base`, spec.pairs);
  const withDeployments = await createClusters(api, `${spec.key}-with`, spec.pairs);
  const raw = Array.from({ length: spec.pairs }, (_, i) =>
    generateClusterInventory({ nodes: spec.nodes, pods: spec.pods, seed: `${spec.key}-${i}` }),
  );
  // Both clusters of a pair end up holding the same inventory, labelled with deployment ids (made up for `base`).
  const labelled = new Array<ClusterInventory>(spec.pairs * 2);
  const unlabelled = raw.map((inv) => withRollouts(inv, new Array<undefined>(PER_CLUSTER)));
  await pool(spec.pairs * 2, SETUP_CONCURRENCY, async (k) => {
    const i = k % spec.pairs;
    const isBase = k < spec.pairs;
    const agent = (isBase ? base : withDeployments)[i];
    const plain = raw[i];
    if (agent === undefined || plain === undefined) throw new Error('no cluster');
    const inv = isBase
      ? withRollouts(
          plain,
          Array.from({ length: PER_CLUSTER }, () => randomUUID()),
        )
      : unlabelled[i];
    if (inv === undefined) throw new Error('no inventory');
    if (isBase) labelled[k] = inv;
    // The agent reports apply before any deployment can be created.
    await sendHeartbeat(
      server,
      agent.agentKey,
      JSON.stringify(buildFullHeartbeat(inv, { seq: 1, capabilities: CAPABILITIES })),
    );
  });
  const ids = withDeployments.map(() => new Array<string>(PER_CLUSTER));
  await pool(spec.pairs * PER_CLUSTER, 4, async (k) => {
    const i = Math.floor(k / PER_CLUSTER);
    const j = k % PER_CLUSTER;
    const agent = withDeployments[i];
    if (agent === undefined) throw new Error('no cluster');
    const { body } = await api.call<Deployment>('POST', '/api/v1/deployments', {
      clusterId: agent.clusterId,
      namespace: NS,
      name: `app-${j}`,
      source: { type: 'yaml', yaml: yamlOf(`app-${j}`) },
    });
    const row = ids[i];
    if (row !== undefined) row[j] = body.id;
  });
  // The agent applies, answers with generations, and its next heartbeat (a delta) carries the labels.
  await pool(spec.pairs, SETUP_CONCURRENCY, async (i) => {
    const agent = withDeployments[i];
    const before = unlabelled[i];
    if (agent === undefined || before === undefined) throw new Error('no cluster');
    const answered = await agentAnswers(server, agent, 1);
    if (answered !== PER_CLUSTER) throw new Error(`expected ${PER_CLUSTER} applies, answered ${answered}`);
    const after = withRollouts(raw[i] ?? before, ids[i] ?? []);
    labelled[spec.pairs + i] = after;
    await sendHeartbeat(
      server,
      agent.agentKey,
      JSON.stringify(buildDeltaHeartbeat(before, after, { seq: 2, capabilities: CAPABILITIES })),
    );
  });
  const bodies = new Map<string, string[]>();
  for (const [k, agent] of [...base, ...withDeployments].entries()) {
    const inv = labelled[k];
    if (inv === undefined) throw new Error('no inventory');
    const rng = createRng(`${spec.key}-usage-${k % spec.pairs}`);
    const hb = buildSameHeartbeat(inv, { seq: 10, capabilities: CAPABILITIES });
    bodies.set(
      agent.agentKey,
      Array.from({ length: VARIANTS }, (_, v) =>
        JSON.stringify({ ...hb, seq: 10 + v, usage: generateUsage(inv, rng) }),
      ),
    );
  }
  const progressing = await progressingCount(server, withDeployments);
  if (progressing !== spec.pairs * PER_CLUSTER) {
    throw new Error(`expected ${spec.pairs * PER_CLUSTER} rollouts progressing, found ${progressing}`);
  }
  return { base, with: withDeployments, bodies, deployments: spec.pairs * PER_CLUSTER };
}

async function progressingCount(server: RunningServer, agents: Agent[]): Promise<number> {
  const row = await server.services.database.db
    .selectFrom('deployments')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('rollout_state', '=', 'progressing')
    .where(
      'cluster_id',
      'in',
      agents.map((a) => a.clusterId),
    )
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

type Phase = { done: number; seconds: number; latencies: number[]; statements: number };

/** Every cluster of the set sends its `same` bodies one after another until the deadline. */
async function drive(server: RunningServer, agents: Agent[], bodies: Map<string, string[]>, seconds: number) {
  const phase: Phase = { done: 0, seconds: 0, latencies: [], statements: 0 };
  const s0 = statements.count;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    agents.map(async (agent, k) => {
      const list = bodies.get(agent.agentKey) ?? [];
      let cursor = k;
      while (performance.now() < end) {
        const t = performance.now();
        await sendHeartbeat(server, agent.agentKey, list[cursor++ % list.length] ?? '');
        phase.latencies.push(performance.now() - t);
        phase.done++;
      }
    }),
  );
  phase.seconds = (performance.now() - t0) / 1000;
  phase.statements = statements.count - s0;
  return phase;
}

function rateOf(phases: Phase[]): Rate {
  const done = phases.reduce((n, p) => n + p.done, 0);
  return {
    perSecond: done / phases.reduce((s, p) => s + p.seconds, 0),
    latency: percentiles(phases.flatMap((p) => p.latencies)),
    statementsPerHeartbeat: phases.reduce((n, p) => n + p.statements, 0) / Math.max(done, 1),
  };
}

/** Median µs per call of fn over `n` calls (after a warm-up). */
async function timeCalls(n: number, fn: () => unknown): Promise<number> {
  for (let i = 0; i < Math.min(n, 5); i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return percentiles(samples).p50;
}

async function measureFleet(api: Api, spec: FleetSpec): Promise<FleetFigures> {
  const { server } = api;
  const fleet = await setupFleet(api, spec);
  log(`  ${spec.label}: ${spec.pairs} + ${spec.pairs} clusters, ${fleet.deployments} deployments progressing`);
  const m0 = performance.now();
  // Each cluster's first heartbeats after setup may still rewrite its stored document (fresh usage):
  // not steady state, so not measured.
  for (const agents of [fleet.base, fleet.with]) {
    await pool(agents.length, SETUP_CONCURRENCY, async (k) => {
      const agent = agents[k];
      const list = fleet.bodies.get(agent?.agentKey ?? '') ?? [];
      for (const body of list.slice(0, 2)) await sendHeartbeat(server, agent?.agentKey ?? '', body);
    });
  }
  const phases: Record<'base' | 'with', Phase[]> = { base: [], with: [] };
  const sets: ('base' | 'with')[] = ['base', 'with', 'with', 'base'];
  const order = sets.slice(0, ROUNDS * 2);
  for (const set of order) {
    const agents = set === 'base' ? fleet.base : fleet.with;
    await drive(server, agents, fleet.bodies, WARMUP_SECONDS);
    const phase = await drive(server, agents, fleet.bodies, PHASE_SECONDS);
    phases[set].push(phase);
    log(`    ${set}: ${(phase.done / phase.seconds).toFixed(0)} heartbeats/s`);
  }
  log(`    measured in ${((performance.now() - m0) / 1000).toFixed(1)} s`);
  const progressingAfter = await progressingCount(server, fleet.with);

  // Where the watch's time goes on one cluster: reading the held inventory, then the 5 progress checks.
  const reader = new InventoryReader(server.services.heartbeat, new ClustersRepository(server.services.database.db));
  const first = fleet.with[0];
  if (first === undefined) throw new Error('no cluster');
  const expected: ExpectedWorkload[][] = Array.from({ length: PER_CLUSTER }, (_, j) => [
    { kind: 'Deployment', name: `app-${j}`, generation: 1 },
  ]);
  const scope = { namespace: NS, workloads: expected[0] ?? [], withPods: true };
  const held = await reader.read(first.clusterId, scope);
  const calls = QUICK ? 10 : 40;
  const readMs = await timeCalls(calls, () => reader.read(first.clusterId, scope));
  // Its parts: JSON.parse of each held pod, then TypeBox's dynamic check (and, for comparison, a compiled one).
  const heldJson = [...(server.services.heartbeat.heldObjects(first.clusterId)?.pods.values() ?? [])].map(
    (p) => p.json,
  );
  const parsed = heldJson.map((j): unknown => JSON.parse(j));
  const parseMs = await timeCalls(calls, () => heldJson.map((j): unknown => JSON.parse(j)));
  const checkMs = await timeCalls(calls, () => parsed.filter((p) => Value.Check(Pod, p)));
  const compiled = Compile(Pod);
  const compiledCheckMs = await timeCalls(calls, () => parsed.filter((p) => compiled.Check(p)));
  const progressMs = await timeCalls(QUICK ? 10 : 40, () => {
    for (const e of expected) rolloutProgress(NS, e, held.workloads, held.pods);
  });
  return {
    spec,
    deployments: fleet.deployments,
    base: rateOf(phases.base),
    with: rateOf(phases.with),
    progressingAfter,
    readMs,
    parseMs,
    checkMs,
    compiledCheckMs,
    progressMs,
    heldPods: held.pods.length,
  };
}

// ---------------------------------------------------------------------------------------------
// 4. The list

async function measureList(api: Api, adminId: string, deployments: number): Promise<ListFigures> {
  const { server } = api;
  const repo = new DeploymentsRepository(server.services.database.db);
  const scope = await server.services.orgs.scopeFor(adminId);
  const get = () => api.call<DeploymentList>('GET', '/api/v1/deployments');
  for (let i = 0; i < 2; i++) await get();
  const list: number[] = [];
  let returned = 0;
  let bytes = 0;
  for (let i = 0; i < LIST_REQUESTS; i++) {
    const t0 = performance.now();
    const r = await get();
    list.push(performance.now() - t0);
    returned = r.body.items.length;
    bytes = r.bytes;
  }
  statements.shapes = new Map();
  const s0 = statements.count;
  await get();
  const counted = statements.count - s0;
  const shapes = [...statements.shapes.entries()].sort((a, b) => b[1] - a[1]);
  statements.shapes = null;

  const select: number[] = [];
  for (let i = 0; i < LIST_REQUESTS + 2; i++) {
    const t0 = performance.now();
    await repo.list(scope.orgIds, {});
    if (i >= 2) select.push(performance.now() - t0);
  }
  const clusters: number[] = [];
  let clusterCount = 0;
  for (let i = 0; i < LIST_REQUESTS + 2; i++) {
    const t0 = performance.now();
    const r = await api.call<{ items: unknown[] }>('GET', '/api/v1/clusters');
    if (i >= 2) clusters.push(performance.now() - t0);
    clusterCount = r.body.items.length;
  }
  return {
    deployments,
    returned,
    bytes,
    list: percentiles(list),
    select: percentiles(select),
    clusters: percentiles(clusters),
    clusterCount,
    statements: counted,
    shapes,
  };
}

// ---------------------------------------------------------------------------------------------
// 2. The apply path

const FORM: DeploymentForm = {
  name: 'web',
  image: 'registry.example.com/shop/web:2.3.1',
  replicas: 3,
  progressDeadlineSeconds: 3600,
  ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
  service: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  ingress: { host: 'shop.example.com', path: '/', servicePort: 80 },
  env: [
    { name: 'LOG_LEVEL', value: 'info' },
    { name: 'DATABASE_URL', secretName: 'web-db', secretKey: 'url' },
  ],
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
  probes: {
    readiness: { type: 'http', path: '/healthz', port: 8080 },
    liveness: { type: 'http', path: '/healthz', port: 8080, initialDelaySeconds: 10 },
  },
  hpa: { minReplicas: 2, maxReplicas: 6, cpuTargetPercent: 70 },
};

async function measureApply(api: Api): Promise<ApplyFigures> {
  const { server } = api;
  const agents = await createClusters(api, 'apply', APPLY_CLUSTERS);
  const inv = generateClusterInventory({ nodes: 1, pods: 10, seed: 'apply' });
  const deployments: string[] = [];
  for (const agent of agents) {
    await sendHeartbeat(
      server,
      agent.agentKey,
      JSON.stringify(buildFullHeartbeat(inv, { seq: 1, capabilities: CAPABILITIES })),
    );
    const { body } = await api.call<Deployment>('POST', '/api/v1/deployments', {
      clusterId: agent.clusterId,
      namespace: NS,
      name: 'web',
      source: { type: 'builder', form: FORM },
    });
    deployments.push(body.id);
    await agentAnswers(server, agent, 1);
  }
  const { body: revision } = await api.call<DeploymentRevision>(
    'GET',
    `/api/v1/deployments/${deployments[0] ?? ''}/revisions/1`,
  );
  const manifests = revision.manifests;
  const timings = { apply: [] as number[], plain: [] as number[], evaluate: [] as number[] };
  const counts = { apply: 0, plain: 0 };
  let applyShapes: [string, number][] = [];
  let generation = 1;
  for (let round = -1; round < APPLY_ROUNDS; round++) {
    for (const [k, agent] of agents.entries()) {
      const id = deployments[k] ?? '';
      const steps: [keyof typeof timings, () => Promise<unknown>][] = [
        ['apply', () => api.call<Deployment>('POST', `/api/v1/deployments/${id}/apply`, {})],
        [
          'plain',
          () =>
            api.call('POST', `/api/v1/clusters/${agent.clusterId}/commands`, {
              kind: 'apply',
              payload: { manifests, namespace: NS },
            }),
        ],
        ['evaluate', () => api.call('POST', '/api/v1/policy/evaluate', { yaml: manifests, environment: 'production' })],
      ];
      // Each kind first as often as last, so a warm cache favours none.
      const shift = (round + k + 3) % 3;
      for (const [name, step] of [...steps.slice(shift), ...steps.slice(0, shift)]) {
        const s0 = statements.count;
        const shapes = round === 0 && k === 0 && name === 'apply';
        if (shapes) statements.shapes = new Map();
        const t0 = performance.now();
        await step();
        const ms = performance.now() - t0;
        if (shapes) {
          applyShapes = [...(statements.shapes?.entries() ?? [])].sort((a, b) => b[1] - a[1]);
          statements.shapes = null;
        }
        if (round < 0) continue;
        timings[name].push(ms);
        if (name !== 'evaluate') counts[name] += statements.count - s0;
      }
    }
    generation++;
    await pool(agents.length, SETUP_CONCURRENCY, async (k) => {
      const agent = agents[k];
      if (agent !== undefined) await agentAnswers(server, agent, generation);
    });
  }
  const n = APPLY_ROUNDS * APPLY_CLUSTERS;
  // What the service does in memory before its writes: build the form, read the manifests back.
  const buildMs = await timeCalls(50, () => buildManifests(FORM, { namespace: NS }));
  const parseMs = await timeCalls(50, () => parseManifests(manifests, MANIFEST_LIMITS));
  return {
    apply: percentiles(timings.apply),
    plain: percentiles(timings.plain),
    evaluate: percentiles(timings.evaluate),
    applyStatements: counts.apply / n,
    applyShapes,
    plainStatements: counts.plain / n,
    manifestBytes: Buffer.byteLength(manifests),
    objects: parseManifests(manifests).objects.length,
    findings: revision.findings.length,
    buildMs,
    parseMs,
  };
}

// ---------------------------------------------------------------------------------------------
// 3. rolloutProgress() alone

/** The baseline: a module function like rolloutProgress() itself, so both get the same treatment from the JIT. */
function countNamespacePods(namespace: string, pods: readonly Pod[]): number {
  let count = 0;
  for (const pod of pods) if (pod.namespace === namespace) count++;
  return count;
}

type ProgressFigures = { workloads: number; pods: number; namespacePods: number; progressUs: number; loopUs: number };

function measureProgress(): ProgressFigures {
  const namespaces = 20;
  const perNamespace = 50;
  const replicas = 10;
  const template = generateClusterInventory({ nodes: 3, pods: 40, seed: 'progress' }).pods.filter(
    (p) => p.owner?.kind === 'Deployment',
  );
  const workloads: Workload[] = [];
  const pods: Pod[] = [];
  for (let n = 0; n < namespaces; n++) {
    for (let w = 0; w < perNamespace; w++) {
      const name = `svc-${w}`;
      workloads.push({
        kind: w % 10 === 9 ? 'StatefulSet' : 'Deployment',
        namespace: `team-${n}`,
        name,
        replicas,
        readyReplicas: replicas - (w % 3),
        updatedReplicas: replicas,
        availableReplicas: replicas - (w % 3),
        generation: 4,
        observedGeneration: 4,
        template: {},
      });
      for (let r = 0; r < replicas; r++) {
        const like = template[(n * perNamespace + w + r) % template.length];
        if (like === undefined) throw new Error('no template pod');
        pods.push({
          ...like,
          namespace: `team-${n}`,
          name: `${name}-5f7c9b8d4-${r}k2x9`,
          owner: { kind: w % 10 === 9 ? 'StatefulSet' : 'Deployment', name },
        });
      }
    }
  }
  // As the inventory reader hands them over: parsed from the JSON the heartbeat service holds.
  const parsedPods = pods.map((p): Pod => JSON.parse(JSON.stringify(p)) as Pod);
  const namespace = 'team-7';
  // A deployment of three workloads, one of them still rolling out.
  const expected: ExpectedWorkload[] = [
    { kind: 'Deployment', name: 'svc-3', generation: 4 },
    { kind: 'Deployment', name: 'svc-4', generation: 4 },
    { kind: 'StatefulSet', name: 'svc-9', generation: 4 },
  ];
  let sink = 0;
  // One timing loop per function, so neither call site sees the other function.
  const timed =
    (fn: () => number) =>
    (count: number): number => {
      const t0 = performance.now();
      for (let i = 0; i < count; i++) sink += fn();
      return ((performance.now() - t0) * 1000) / count;
    };
  const progress = timed(() => rolloutProgress(namespace, expected, workloads, parsedPods).pods.length);
  const loop = timed(() => countNamespacePods(namespace, parsedPods));
  // Warm both up until the optimising compiler has had its go at each.
  for (let i = 0; i < 4; i++) {
    progress(100);
    loop(100);
  }
  // In turn, so a slower moment of the machine falls on both.
  const samples = { progress: [] as number[], loop: [] as number[] };
  for (let i = 0; i < (QUICK ? 5 : 20); i++) {
    samples.progress.push(progress(QUICK ? 50 : 100));
    samples.loop.push(loop(QUICK ? 50 : 100));
  }
  const progressUs = percentiles(samples.progress).p50;
  const loopUs = percentiles(samples.loop).p50;
  if (sink === 0) throw new Error('nothing measured');
  return {
    workloads: workloads.length,
    pods: pods.length,
    namespacePods: pods.filter((p) => p.namespace === namespace).length,
    progressUs,
    loopUs,
  };
}

// ---------------------------------------------------------------------------------------------

async function run(label: string, databaseUrl: string | null): Promise<RunFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'niro-bench-deployments-'));
  const server = await startServer({
    config: {
      NIRO_PORT: '0',
      NIRO_HOST: '127.0.0.1',
      NIRO_DATA_DIR: dir,
      NIRO_LOG_LEVEL: 'silent',
      NIRO_SECRET_KEY: randomBytes(32).toString('base64'),
      ...(databaseUrl === null ? {} : { NIRO_DATABASE_URL: databaseUrl }),
    },
    logger: createLogger('silent'),
  });
  try {
    // Drift checks would queue diff commands for every deployment in the middle of the figures.
    await server.jobs.driftCheck?.stop();
    const admin = await server.services.auth.bootstrapAdmin({ email: 'bench@example.com', password: 'bench-password' });
    if (admin === null) throw new Error('the bench database already has an administrator');
    const api = apiOf(server, (await server.services.auth.createApiToken(admin.id, 'bench')).token);
    log(`${label}:`);
    const t0 = performance.now();
    const [fleetSpec, largeSpec] = FLEETS;
    if (fleetSpec === undefined || largeSpec === undefined) throw new Error('no fleets');
    const fleet = await measureFleet(api, fleetSpec);
    // Before the other fleets add theirs: the list holds exactly the fleet's deployments.
    const list = await measureList(api, admin.id, fleet.deployments);
    log(`  list of ${list.returned}: p50 ${ms(list.list.p50)}, ${list.statements} SQL statements`);
    log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    const large = await measureFleet(api, largeSpec);
    log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    const apply = await measureApply(api);
    log(`  apply p50 ${ms(apply.apply.p50)}, plain command p50 ${ms(apply.plain.p50)}`);
    const total = await server.services.database.db
      .selectFrom('deployments')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('archived_at', 'is', null)
      .executeTakeFirst();
    const finalList = await api.call<DeploymentList>('GET', '/api/v1/deployments');
    return {
      label,
      setupSeconds: (performance.now() - t0) / 1000,
      fleets: [fleet, large],
      list,
      apply,
      finalList: { total: Number(total?.n ?? 0), returned: finalList.body.items.length },
    };
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (x: number): string => `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`;
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '–');
const log = (line: string): void => console.log(line);

function runLines(r: RunFigures): string[] {
  const lines = [`### ${r.label}`, ''];
  lines.push(
    '**1. Heartbeats under the rollout watch** (`same` heartbeats through `app.inject()`, one in flight per cluster)',
    '',
    '| clusters | set | deployments | heartbeats/s | p50 | p99 | SQL statements / heartbeat | with / base (rate) | with / base (p50) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const f of r.fleets) {
    lines.push(
      `| ${f.spec.pairs} × ${f.spec.label} | base: no deployments | 0 | ${f.base.perSecond.toFixed(0)} | ${ms(f.base.latency.p50)} | ${ms(f.base.latency.p99)} | ${f.base.statementsPerHeartbeat.toFixed(2)} | | |`,
      `| ${f.spec.pairs} × ${f.spec.label} | with: 5 rollouts progressing each | ${f.deployments} | ${f.with.perSecond.toFixed(0)} | ${ms(f.with.latency.p50)} | ${ms(f.with.latency.p99)} | ${f.with.statementsPerHeartbeat.toFixed(2)} | **${ratio(f.with.perSecond, f.base.perSecond)}** | ${ratio(f.with.latency.p50, f.base.latency.p50)} |`,
    );
  }
  lines.push('');
  for (const f of r.fleets) {
    lines.push(
      `- ${f.spec.label}: ${f.progressingAfter} of ${f.deployments} rollouts still progressing afterwards (checked, not finished). ` +
        `When the watch looks at a rollout (a changed inventory, its first look, or its deadline) it reads the rollout's workload by key and, for a stall's evidence, the ${f.heldPods} pods of its namespace (compiled checks): ` +
        `${ms(f.readMs)} (for comparison over those pods: JSON.parse ${ms(f.parseMs)}, an uncompiled \`Value.Check(Pod)\` ${ms(f.checkMs)}, a compiled one ${ms(f.compiledCheckMs)}); ` +
        `then 5 × rolloutProgress(): ${ms(f.progressMs)}.`,
    );
  }
  const l = r.list;
  lines.push(
    '',
    `**4. \`GET /api/v1/deployments\`**, ${l.returned} of ${l.deployments} deployments on ${r.fleets[0]?.spec.pairs ?? 0} clusters, every rollout progressing (${(l.bytes / 1024).toFixed(0)} KB reply)`,
    '',
    '| request | n | p50 | p90 | max |',
    '|---|---:|---:|---:|---:|',
    `| **GET /api/v1/deployments** | ${l.list.count} | ${ms(l.list.p50)} | ${ms(l.list.p90)} | ${ms(l.list.max)} |`,
    `| baseline: the list's own SELECT (repository, no HTTP) | ${l.select.count} | ${ms(l.select.p50)} | ${ms(l.select.p90)} | ${ms(l.select.max)} |`,
    `| baseline: GET /api/v1/clusters (${l.clusterCount} clusters) | ${l.clusters.count} | ${ms(l.clusters.p50)} | ${ms(l.clusters.p90)} | ${ms(l.clusters.max)} |`,
    '',
    `- list / SELECT (p50): ${ratio(l.list.p50, l.select.p50)}; list / clusters list (p50): ${ratio(l.list.p50, l.clusters.p50)}.`,
    `- SQL statements in one list request: ${l.statements} (${l.shapes.map(([s, n]) => `${s} × ${n}`).join('; ')}).`,
    `- After the other fleets and the apply clusters added theirs: ${r.finalList.returned} of ${r.finalList.total} active deployments on the first page (1,000 at most; \`nextCursor\` gives the rest).`,
  );
  const a = r.apply;
  lines.push(
    '',
    `**2. The apply path**, a builder deployment (form → ${a.objects} objects, ${(a.manifestBytes / 1024).toFixed(1)} KB of YAML, ${a.findings} findings on revision 1), ${a.apply.count} applies over ${APPLY_CLUSTERS} clusters, interleaved`,
    '',
    '| request | n | p50 | p90 | max | SQL statements |',
    '|---|---:|---:|---:|---:|---:|',
    `| **POST /api/v1/deployments/{id}/apply** | ${a.apply.count} | ${ms(a.apply.p50)} | ${ms(a.apply.p90)} | ${ms(a.apply.max)} | ${a.applyStatements.toFixed(1)} |`,
    `| baseline: POST /api/v1/clusters/{id}/commands (apply, same manifests) | ${a.plain.count} | ${ms(a.plain.p50)} | ${ms(a.plain.p90)} | ${ms(a.plain.max)} | ${a.plainStatements.toFixed(1)} |`,
    `| for reference: POST /api/v1/policy/evaluate (same manifests) | ${a.evaluate.count} | ${ms(a.evaluate.p50)} | ${ms(a.evaluate.p90)} | ${ms(a.evaluate.max)} | 0 |`,
    '',
    `- apply / plain command: p50 ${ratio(a.apply.p50, a.plain.p50)}, p90 ${ratio(a.apply.p90, a.plain.p90)}; ` +
      `(apply − plain) − evaluate at p50: ${ms(a.apply.p50 - a.plain.p50 - a.evaluate.p50)} (build, revision row, reads and the reply's deployment); ` +
      `in memory, buildManifests() takes ${ms(a.buildMs)} and parseManifests() ${ms(a.parseMs)}.`,
    `- SQL statements of one apply: ${a.applyShapes.map(([s, n]) => `${s} × ${n}`).join('; ')}.`,
    '',
  );
  return lines;
}

async function main(): Promise<void> {
  const started = performance.now();
  const startLoad = os.loadavg();
  countStatements();
  const progress = measureProgress();
  log(`rolloutProgress: ${progress.progressUs.toFixed(1)} µs/call; namespace loop ${progress.loopUs.toFixed(1)} µs`);
  const results = await runOnSqliteThenPostgres(run, () => log('PostgreSQL: skipped (no server at the test URL)'));
  const section = [
    '',
    `## ${new Date().toISOString()} — deployments: rollout watch, apply, list (\`npm run bench:deployments\`)`,
    '',
    `- ${machineLine()}`,
    `- Load average at the start (1/5/15 min): ${formatLoad(startLoad)}; at the end: ${formatLoad(os.loadavg())}. Other work on the`,
    '  machine slows every row alike: compare the rows of one section, not sections.',
    '- Server in this process, drift job stopped. 1: pairs of clusters holding the same inventory (plus 5',
    '  Deployments mid-rollout, 1 of 3 replicas updated); in each pair one has 5 YAML deployments applied and',
    '  answered with generations (rollout progressing, deadline 1 h), the other none; steady-state `same`',
    `  heartbeats, the sets in turn (base, with, with, base; ${PHASE_SECONDS} s each after ${WARMUP_SECONDS} s warm-up). SQL statements`,
    "  counted at Kysely's executor. 2 and 4: sequential requests through `app.inject()`.",
    '',
    `**3. rolloutProgress()** on ${progress.workloads.toLocaleString('en')} workloads / ${progress.pods.toLocaleString('en')} pods (a deployment of 3 workloads in a namespace of ${progress.namespacePods} pods):`,
    `${progress.progressUs.toFixed(1)} µs per call; baseline, a loop counting the namespace's pods: ${progress.loopUs.toFixed(1)} µs; ratio ${ratio(progress.progressUs, progress.loopUs)}.`,
    "(The baseline loop's figure moves from run to run on this machine, by up to 5×, as V8 compiles it; rolloutProgress() costs about one pass over the pods either way.)",
    '',
    ...results.flatMap(runLines),
    `Run time ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  ];
  log(section.join('\n'));
  if (!QUICK && results.length > 0) {
    const here = path.dirname(fileURLToPath(import.meta.url));
    fs.appendFileSync(path.join(here, 'RESULTS.md'), `${section.join('\n')}\n`);
    log('appended to bench/RESULTS.md');
  }
}

await main();
