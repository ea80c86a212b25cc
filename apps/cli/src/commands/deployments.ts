import type {
  ApiClient,
  Deployment,
  DeploymentRevisionSummary,
  DeploymentSource,
  DeploymentStatus,
  ObjectResult,
} from '@niro/protocol';
import { Option, type Command } from 'commander';
import { authenticatedClient, type GlobalOptions } from '../api.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { ago, count } from '../format.js';
import { findCluster } from './clusters.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STATUSES: readonly DeploymentStatus[] = ['new', 'pending', 'succeeded', 'partial', 'failed'];

export type DeploymentFilter = { cluster?: string; namespace?: string };

/** Where a deployment lives, for messages: "edge-1/shop". */
export const placeOf = (d: Deployment): string => `${d.clusterName}/${d.namespace}`;

/**
 * A deployment by id, or by name among the deployments the caller can see, narrowed by
 * --cluster/--namespace; active ones first, then (with `archived`) archived ones. Several with
 * the name is an error listing them.
 */
export async function findDeployment(
  api: ApiClient,
  ref: string,
  filter: DeploymentFilter,
  options: { archived?: boolean } = {},
): Promise<Deployment> {
  if (UUID.test(ref)) return api.getDeployment(ref);
  const clusterId = filter.cluster === undefined ? undefined : (await findCluster(api, filter.cluster)).id;
  const query = { cluster: clusterId, namespace: filter.namespace, q: ref };
  const named = (items: readonly Deployment[]): Deployment[] => items.filter((d) => d.name === ref);
  let matches = named((await api.listDeployments(query)).items);
  if (matches.length === 0 && options.archived === true) {
    matches = named((await api.listDeployments({ ...query, archived: true })).items);
  }
  const where = [
    filter.cluster === undefined ? null : `cluster ${filter.cluster}`,
    filter.namespace === undefined ? null : `namespace ${filter.namespace}`,
  ].filter((s) => s !== null);
  const [only] = matches;
  if (only === undefined) {
    throw new CliError(`no deployment named "${ref}"${where.length > 0 ? ` in ${where.join(', ')}` : ''}`);
  }
  if (matches.length > 1) {
    const candidates = matches.map((d) => `${placeOf(d)} (${d.id})`).join(', ');
    throw new CliError(
      `${matches.length} deployments are named "${ref}": ${candidates}; narrow it with --cluster and --namespace, or use the id`,
    );
  }
  return only;
}

/** "1 high, 3 medium" (the severities that have findings), or "none". */
export function findingCounts(counts: Deployment['findingCounts']): string {
  const parts = (['high', 'medium', 'low', 'info'] as const)
    .filter((k) => counts[k] > 0)
    .map((k) => `${counts[k]} ${k}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/** "2 objects configured, 1 unchanged". */
export function objectsSummary(objects: readonly ObjectResult[]): string {
  if (objects.length === 0) return 'no objects';
  const byAction = new Map<string, number>();
  for (const o of objects) byAction.set(o.action, (byAction.get(o.action) ?? 0) + 1);
  return [...byAction]
    .map(([action, n], i) => (i === 0 ? `${count(n, 'object')} ${action}` : `${n} ${action}`))
    .join(', ');
}

/** "2/2 ready", "1/2 progressing", "-" without workloads. */
export function rolloutText(d: Deployment): string {
  const r = d.rollout;
  if (r.state === 'none') return '-';
  return `${r.readyReplicas}/${r.desiredReplicas} ${r.state}`;
}

function statusText(d: Deployment): string {
  return d.lifecycle === 'active' ? d.status : `${d.status} (${d.lifecycle})`;
}

function sourceText(s: DeploymentSource): string {
  if (s.type === 'yaml') return 'YAML';
  if (s.type === 'builder') return `builder (${s.form.image})`;
  return `git ${s.url} ${s.ref}${s.path === '' || s.path === '.' ? '' : ` ${s.path}`}`;
}

function revisionNote(r: DeploymentRevisionSummary): string {
  if (r.message !== null) return r.message;
  return r.rollbackOf === null ? '' : `rollback to revision ${r.rollbackOf}`;
}

export function printRevisions(ctx: CliContext, items: readonly DeploymentRevisionSummary[]): void {
  const now = Date.now();
  ctx.out.table(
    ['REVISION', 'STATUS', 'SOURCE', 'CREATED', 'BY', 'FINDINGS', 'NOTE'],
    items.map((r) => [
      String(r.revision),
      r.status,
      r.source.type === 'git' ? `git ${r.source.commit.slice(0, 12)}` : r.source.type,
      ago(r.createdAt, now),
      r.createdBy ?? '-',
      findingCounts(r.findingCounts),
      revisionNote(r),
    ]),
  );
}

function showDeployment(ctx: CliContext, d: Deployment): void {
  const r = d.rollout;
  const notReady = r.pods.filter((p) => !p.ready);
  ctx.out.fields([
    ['Name', d.name],
    ['ID', d.id],
    ['Cluster', `${d.clusterName} (${d.environment})`],
    ['Namespace', d.namespace],
    ['Source', sourceText(d.source)],
    ['Status', statusText(d)],
    ['Revision', `${d.revision}${d.appliedRevision === null ? ' (none applied)' : `, applied ${d.appliedRevision}`}`],
    [
      'Rollout',
      r.state === 'none'
        ? 'none'
        : `${r.state}: ${r.readyReplicas}/${r.desiredReplicas} ready, ${r.updatedReplicas} updated (revision ${r.revision ?? '-'})`,
    ],
    ...notReady.map((p) => ['Pod', `${p.name}: ${p.reason ?? p.phase}`] as const),
    ['Drift', d.drift.checkedAt === null ? d.drift.state : `${d.drift.state} (checked ${ago(d.drift.checkedAt)})`],
    ...d.drift.objects.map((o) => ['Drifted', `${o.kind}/${o.name} ${o.action}`] as const),
    ['Findings', findingCounts(d.findingCounts)],
    ...(d.lastError === null ? [] : [['Last error', d.lastError] as const]),
    ['Created', `${d.createdAt} (${ago(d.createdAt)})`],
    ['Updated', `${d.updatedAt} (${ago(d.updatedAt)})`],
    ...(d.archivedAt === null ? [] : [['Archived', d.archivedAt] as const]),
  ]);
}

type LookupOptions = GlobalOptions & DeploymentFilter;

export function registerDeploymentsCommands(program: Command, ctx: CliContext): void {
  const deployments = program
    .command('deployments')
    .alias('deployment')
    .description('List and inspect managed deployments (see also `niro deploy` and `niro rollback`)');

  deployments
    .command('ls')
    .alias('list')
    .description('List the deployments you can see')
    .option('--cluster <name|id>', 'only this cluster')
    .option('-n, --namespace <namespace>', 'only this namespace')
    .addOption(new Option('--status <status>', 'only this status of the latest apply').choices([...STATUSES]))
    .option('--archived', 'include deleted and unmanaged deployments')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<LookupOptions & { status?: DeploymentStatus; archived?: boolean }>();
      const api = await authenticatedClient(ctx, opts);
      const cluster = opts.cluster === undefined ? undefined : await findCluster(api, opts.cluster);
      const { items } = await api.listDeployments({
        cluster: cluster?.id,
        namespace: opts.namespace,
        status: opts.status,
        ...(opts.archived === true ? { archived: true } : {}),
      });
      if (opts.output === 'json') return ctx.out.json(items);
      if (items.length === 0) {
        ctx.out.info('No deployments. Create one with: niro deploy FILE --cluster NAME --namespace NS');
        return;
      }
      const now = Date.now();
      ctx.out.table(
        ['NAME', 'CLUSTER', 'NAMESPACE', 'STATUS', 'REVISION', 'ROLLOUT', 'DRIFT', 'UPDATED'],
        items.map((d) => [
          d.name,
          d.clusterName,
          d.namespace,
          statusText(d),
          d.appliedRevision === null || d.appliedRevision === d.revision
            ? String(d.revision)
            : `${d.revision} (applied ${d.appliedRevision})`,
          rolloutText(d),
          d.drift.state,
          ago(d.updatedAt, now),
        ]),
      );
    });

  const lookup = (command: Command): Command =>
    command
      .argument('<deployment>', 'deployment name or id')
      .option('--cluster <name|id>', 'the cluster, when the name is used in several')
      .option('-n, --namespace <namespace>', 'the namespace, when the name is used in several');

  lookup(
    deployments.command('show').alias('get').description('Show a deployment, its rollout and its revisions'),
  ).action(async (ref: string, _opts: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<LookupOptions>();
    const api = await authenticatedClient(ctx, opts);
    const found = await findDeployment(api, ref, opts, { archived: true });
    // The list leaves pods out; the deployment itself has them.
    const d = await api.getDeployment(found.id);
    const { items } = await api.deploymentRevisions(d.id);
    if (opts.output === 'json') return ctx.out.json({ ...d, revisions: items });
    showDeployment(ctx, d);
    if (items.length > 0) {
      ctx.out.line();
      printRevisions(ctx, items);
    }
  });

  lookup(deployments.command('revisions').description("List a deployment's revisions, newest first")).action(
    async (ref: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<LookupOptions>();
      const api = await authenticatedClient(ctx, opts);
      const d = await findDeployment(api, ref, opts, { archived: true });
      const { items } = await api.deploymentRevisions(d.id);
      if (opts.output === 'json') return ctx.out.json(items);
      if (items.length === 0) {
        ctx.out.info(`${d.name} has no revisions yet.`);
        return;
      }
      printRevisions(ctx, items);
    },
  );
}
