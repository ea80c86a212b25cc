import { ENVIRONMENTS, type ApiClient, type Cluster, type Environment } from '@niro/protocol';
import { Option, type Command } from 'commander';
import { authenticatedClient, type GlobalOptions } from '../api.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { ago, bytes, cpu, labels } from '../format.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--label k=v` values into a label map. */
export function parseLabels(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of values) {
    const eq = raw.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label ${raw}: use key=value`);
    out[raw.slice(0, eq)] = raw.slice(eq + 1);
  }
  return out;
}

const isEnvironment = (v: string): v is Environment => (ENVIRONMENTS as readonly string[]).includes(v);

/** A cluster by id, or by its exact name among the clusters the caller can see. */
export async function findCluster(api: ApiClient, ref: string): Promise<Cluster> {
  if (UUID.test(ref)) return api.getCluster(ref);
  const { items } = await api.listClusters({ q: ref });
  const matches = items.filter((c) => c.name === ref);
  const [only] = matches;
  if (only === undefined) throw new CliError(`no cluster named "${ref}"`);
  if (matches.length > 1) {
    throw new CliError(
      `${matches.length} clusters are named "${ref}" (in different orgs): use the id, one of ${matches.map((c) => c.id).join(', ')}`,
    );
  }
  return only;
}

export function registerClusterCommands(program: Command, ctx: CliContext): void {
  const clusters = program.command('clusters').alias('cluster').description('List, create and inspect clusters');

  clusters
    .command('ls')
    .alias('list')
    .description('List the clusters you can see')
    .addOption(new Option('--env <environment>', 'only this environment').choices([...ENVIRONMENTS]))
    .option('--label <key=value>', 'only clusters with this label (repeatable)', collect, [])
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions & { env?: string; label: string[] }>();
      const api = await authenticatedClient(ctx, opts);
      const wanted = Object.entries(parseLabels(opts.label));
      const listed = await api.listClusters({ environment: opts.env });
      const items = listed.items.filter((c) => wanted.every(([k, v]) => c.labels[k] === v));
      if (opts.output === 'json') return ctx.out.json(items);
      if (items.length === 0) {
        ctx.out.info('No clusters yet. Create one with: niro clusters create NAME');
        return;
      }
      const now = Date.now();
      ctx.out.table(
        ['NAME', 'ENV', 'STATUS', 'NODES', 'PODS', 'K8S', 'LAST SEEN'],
        items.map((c) => [
          c.name,
          c.environment,
          c.status,
          `${c.summary.nodesReady}/${c.summary.nodesTotal}`,
          `${c.summary.podsRunning}/${c.summary.podsTotal}`,
          c.kubernetesVersion ?? '-',
          ago(c.lastHeartbeatAt, now),
        ]),
      );
    });

  clusters
    .command('create')
    .description('Create a cluster and print the command that installs its agent')
    .argument('<name>', 'a DNS label, e.g. edge-lisbon-03')
    .addOption(new Option('--env <environment>', 'environment').choices([...ENVIRONMENTS]).default('unspecified'))
    .option('--label <key=value>', 'a label (repeatable)', collect, [])
    .option('--org <id>', 'the organization (default: your own)')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions & { env: string; label: string[]; org?: string }>();
      if (!isEnvironment(opts.env)) throw new UsageError(`--env must be one of ${ENVIRONMENTS.join(', ')}`);
      const api = await authenticatedClient(ctx, opts);
      const created = await api.createCluster({
        name,
        environment: opts.env,
        labels: parseLabels(opts.label),
        ...(opts.org !== undefined ? { orgId: opts.org } : {}),
      });
      if (opts.output === 'json') return ctx.out.json(created);
      const { cluster, enrollment } = created;
      ctx.out.info(`Created cluster ${cluster.name} (${cluster.id}, ${cluster.environment}).`);
      ctx.out.info(`Install the agent on the cluster (the token is single-use, valid until ${enrollment.expiresAt}):`);
      ctx.out.info();
      ctx.out.line(`  ${enrollment.installCommand}`);
      ctx.out.info();
    });

  clusters
    .command('get')
    .description('Show one cluster')
    .argument('<name-or-id>', 'cluster name or id')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const api = await authenticatedClient(ctx, opts);
      const c = await findCluster(api, ref);
      if (opts.output === 'json') return ctx.out.json(c);
      const s = c.summary;
      const caps = c.capabilities;
      ctx.out.fields([
        ['Name', c.name],
        ['ID', c.id],
        ['Org', c.orgId],
        ['Environment', c.environment],
        ['Labels', labels(c.labels)],
        ['Status', `${c.status} (since ${ago(c.statusChangedAt)})`],
        ['Last seen', ago(c.lastHeartbeatAt)],
        ['Kubernetes', c.kubernetesVersion === null ? '-' : `${c.kubernetesVersion} (${c.distribution ?? '?'})`],
        ['Agent', c.agentVersion ?? 'not enrolled'],
        [
          'Capabilities',
          caps === null
            ? '-'
            : Object.entries(caps)
                .filter(([, on]) => on)
                .map(([k]) => k)
                .join(', ') || 'none',
        ],
        ['Nodes', `${s.nodesReady}/${s.nodesTotal} ready`],
        ['Pods', `${s.podsRunning} running, ${s.podsPending} pending, ${s.podsFailed} failed, ${s.podsTotal} total`],
        ['CPU', `${cpu(s.cpuRequestsMilli)} requested of ${cpu(s.cpuCapacityMilli)}, ${cpu(s.cpuUsageMilli)} used`],
        [
          'Memory',
          `${bytes(s.memoryRequestsBytes)} requested of ${bytes(s.memoryCapacityBytes)}, ${bytes(s.memoryUsageBytes)} used`,
        ],
        ['Created', c.createdAt],
      ]);
    });
}
