import type {
  ApiClient,
  CreateSuppressionRequest,
  Suppression,
  SuppressionList,
  SuppressionObject,
} from '@niro/protocol';
import type { Command } from 'commander';
import { authenticatedClient, type GlobalOptions } from '../api.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { findCluster } from './clusters.js';

const SUPPRESSIONS_PATH = '/api/v1/policy/suppressions';

/** `KIND/NAMESPACE/NAME`, or `KIND/NAME` for a cluster-scoped object. */
export function parseObject(raw: string): SuppressionObject {
  const parts = raw.split('/');
  if (parts.length === 3 && parts.every((p) => p !== '')) {
    const [kind = '', namespace = '', name = ''] = parts;
    return { kind, namespace, name };
  }
  if (parts.length === 2 && parts.every((p) => p !== '')) {
    const [kind = '', name = ''] = parts;
    return { kind, namespace: '', name };
  }
  throw new UsageError(`${raw}: use KIND/NAMESPACE/NAME, or KIND/NAME for a cluster-scoped object`);
}

const objectText = (o: SuppressionObject): string =>
  o.namespace === '' ? `${o.kind}/${o.name}` : `${o.kind}/${o.namespace}/${o.name}`;

/** Cluster ids to names, for the listing; an id the caller cannot resolve is shown as is. */
async function clusterNames(api: ApiClient): Promise<Map<string, string>> {
  const { items } = await api.listClusters();
  return new Map(items.map((c) => [c.id, c.name]));
}

export function registerSuppressionCommands(program: Command, ctx: CliContext): void {
  program
    .command('suppress')
    .description('Suppress a rule’s runtime finding on one object, with a reason (recorded in the audit log)')
    .argument('<rule>', 'a rule id, e.g. mutable-image-tag (see `niro lint --help` or docs/policy.md)')
    .argument('<object>', 'KIND/NAMESPACE/NAME, or KIND/NAME for a cluster-scoped object')
    .requiredOption('--reason <text>', 'why the finding is accepted')
    .option('--cluster <name-or-id>', 'only on this cluster (default: every cluster of the organization)')
    .option('--org <id>', 'the organization, when you can write in several and give no --cluster')
    .option('--expires <date-time>', 'stops applying then (ISO 8601, e.g. 2026-06-01T00:00:00Z)')
    .action(async (ruleId: string, rawObject: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<
        GlobalOptions & { reason: string; cluster?: string; org?: string; expires?: string }
      >();
      const object = parseObject(rawObject);
      let expiresAt: string | undefined;
      if (opts.expires !== undefined) {
        const ms = Date.parse(opts.expires);
        if (!Number.isFinite(ms)) throw new UsageError(`--expires ${opts.expires}: not a date-time`);
        expiresAt = new Date(ms).toISOString();
      }
      const api = await authenticatedClient(ctx, opts);
      const cluster = opts.cluster === undefined ? undefined : await findCluster(api, opts.cluster);
      const body: CreateSuppressionRequest = { ruleId, object, reason: opts.reason };
      if (cluster !== undefined) body.clusterId = cluster.id;
      if (opts.org !== undefined) body.orgId = opts.org;
      if (expiresAt !== undefined) body.expiresAt = expiresAt;
      const created = await api.request<Suppression>('POST', SUPPRESSIONS_PATH, body);
      if (opts.output === 'json') return ctx.out.json(created);
      ctx.out.info(
        `Suppressed ${ruleId} on ${objectText(object)} ${cluster === undefined ? 'in every cluster of the organization' : `in ${cluster.name}`}` +
          `${created.expiresAt === null ? '' : ` until ${created.expiresAt}`}.`,
      );
      ctx.out.line(created.id);
    });

  const suppressions = program
    .command('suppressions')
    .alias('suppression')
    .description('List and delete suppressions of runtime findings');

  suppressions
    .command('ls')
    .alias('list')
    .description('List the suppressions you can see')
    .option('--cluster <name-or-id>', 'those that apply to this cluster (its own and its organization’s)')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions & { cluster?: string }>();
      const api = await authenticatedClient(ctx, opts);
      const cluster = opts.cluster === undefined ? undefined : await findCluster(api, opts.cluster);
      const { items } = await api.request<SuppressionList>(
        'GET',
        SUPPRESSIONS_PATH,
        undefined,
        cluster === undefined ? {} : { cluster: cluster.id },
      );
      if (opts.output === 'json') return ctx.out.json(items);
      if (items.length === 0) {
        ctx.out.info('No suppressions. Suppress a finding with: niro suppress RULE KIND/NAMESPACE/NAME --reason TEXT');
        return;
      }
      const names = await clusterNames(api);
      ctx.out.table(
        ['ID', 'RULE', 'OBJECT', 'CLUSTER', 'EXPIRES', 'REASON'],
        items.map((s) => [
          s.id,
          s.ruleId,
          objectText(s.object),
          s.clusterId === null ? '(all)' : (names.get(s.clusterId) ?? s.clusterId),
          s.expiresAt === null ? '-' : s.expired ? `expired ${s.expiresAt}` : s.expiresAt,
          s.reason,
        ]),
      );
    });

  suppressions
    .command('rm')
    .alias('delete')
    .description('Delete a suppression: its findings are open again')
    .argument('<id>', 'suppression id (see niro suppressions ls)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const api = await authenticatedClient(ctx, opts);
      await api.request<unknown>('DELETE', `${SUPPRESSIONS_PATH}/${encodeURIComponent(id)}`);
      ctx.out.info(`Deleted suppression ${id}.`);
    });
}
