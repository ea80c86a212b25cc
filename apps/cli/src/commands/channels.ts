import {
  ENVIRONMENTS,
  NOTIFICATION_CHANNEL_TYPES,
  type ApiClient,
  type CreateNotificationChannelRequest,
  type Environment,
  type NotificationChannel,
  type NotificationChannelConfig,
  type NotificationChannelType,
  type NotificationSeverity,
} from '@niro/protocol';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { authenticatedClient, type GlobalOptions } from '../api.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { ago, labels } from '../format.js';
import { parseLabels } from './clusters.js';

const SEVERITIES: readonly NotificationSeverity[] = ['info', 'low', 'medium', 'high'];

type CreateOptions = GlobalOptions & {
  type: NotificationChannelType;
  minSeverity: NotificationSeverity;
  env: Environment[];
  label: string[];
  hookUrl?: string;
  routingKey?: string;
  to: string[];
  org?: string;
};

const isEnvironment = (v: string): v is Environment => (ENVIRONMENTS as readonly string[]).includes(v);

function collectEnvironment(value: string, previous: Environment[]): Environment[] {
  if (!isEnvironment(value)) throw new InvalidArgumentError(`use one of ${ENVIRONMENTS.join(', ')}.`);
  return [...previous, value];
}

/** `--to a@x --to b@x` or `--to a@x,b@x`. */
function collectAddresses(value: string, previous: string[]): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== ''),
  ];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * The config of a new channel from the one flag its type takes; any other is a usage error.
 * The receiver's URL is `--hook-url` because `--url` is the global flag naming the Niro server.
 */
export function channelConfig(
  opts: Pick<CreateOptions, 'type' | 'hookUrl' | 'routingKey' | 'to'>,
): NotificationChannelConfig {
  const given = [
    opts.hookUrl === undefined ? null : '--hook-url',
    opts.routingKey === undefined ? null : '--routing-key',
    opts.to.length === 0 ? null : '--to',
  ].filter((f): f is string => f !== null);
  const needed = opts.type === 'pagerduty' ? '--routing-key' : opts.type === 'email' ? '--to' : '--hook-url';
  const wrong = given.filter((f) => f !== needed);
  if (wrong.length > 0) throw new UsageError(`${wrong.join(', ')}: a ${opts.type} channel takes ${needed}`);
  if (opts.hookUrl !== undefined) return { url: opts.hookUrl };
  if (opts.routingKey !== undefined) return { routingKey: opts.routingKey };
  if (opts.to.length > 0) return { to: opts.to };
  // Checked before any request: a hook URL given as `--url` would otherwise receive the API token.
  const hint = needed === '--hook-url' ? ' (--url is the Niro server, not the receiver)' : '';
  throw new UsageError(`a ${opts.type} channel needs ${needed}${hint}`);
}

/** Where a channel sends, as the API shows it (never a secret). */
function target(c: NotificationChannel): string {
  const parts = Object.values(c.config).map((v) => (Array.isArray(v) ? v.join(',') : v));
  return parts.length > 0 ? parts.join(' ') : '-';
}

function filtersText(c: NotificationChannel): string {
  const parts: string[] = [];
  if (c.filters.environments.length > 0) parts.push(`env=${c.filters.environments.join('|')}`);
  if (Object.keys(c.filters.labels).length > 0) parts.push(labels(c.filters.labels));
  return parts.length > 0 ? parts.join(' ') : '-';
}

function statusText(c: NotificationChannel): string {
  const s = c.status;
  const parts = [s.healthy ? 'healthy' : `failing: ${s.lastError ?? 'unknown error'}`];
  if (s.pending > 0) parts.push(`${s.pending} pending`);
  if (s.failed > 0) parts.push(`${s.failed} given up`);
  return parts.join(', ');
}

/** A channel by its id or its exact name among the channels the caller can see. */
export async function findChannel(api: ApiClient, ref: string): Promise<NotificationChannel> {
  const { items } = await api.listNotificationChannels();
  const byId = items.find((c) => c.id === ref);
  if (byId !== undefined) return byId;
  const matches = items.filter((c) => c.name === ref);
  const [only] = matches;
  if (only === undefined) throw new CliError(`no notification channel "${ref}" (see niro channels ls)`);
  if (matches.length > 1) {
    throw new CliError(
      `${matches.length} channels are named "${ref}" (in different orgs): use the id, one of ${matches.map((c) => c.id).join(', ')}`,
    );
  }
  return only;
}

export function registerChannelCommands(program: Command, ctx: CliContext): void {
  const channels = program
    .command('channels')
    .alias('channel')
    .description('Notification channels: where incidents are sent (webhook, Slack, Discord, PagerDuty, email)');

  channels
    .command('ls')
    .alias('list')
    .description('List the notification channels of your organizations and how delivery goes')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const api = await authenticatedClient(ctx, opts);
      const { items } = await api.listNotificationChannels();
      if (opts.output === 'json') return ctx.out.json(items);
      if (items.length === 0) {
        ctx.out.info(
          'No notification channels. Create one with: niro channels create NAME --type webhook --min-severity high --hook-url URL',
        );
        return;
      }
      const now = Date.now();
      ctx.out.table(
        ['ID', 'NAME', 'TYPE', 'MIN SEVERITY', 'FILTERS', 'TARGET', 'LAST DELIVERED', 'STATUS'],
        items.map((c) => [
          c.id,
          c.name,
          c.type,
          c.minSeverity,
          filtersText(c),
          target(c),
          ago(c.status.lastDeliveredAt, now),
          statusText(c),
        ]),
      );
    });

  channels
    .command('create')
    .description('Create a notification channel (admin); a webhook’s signing secret is printed this once')
    .argument('<name>', 'a name, e.g. "On-call hook"')
    .addOption(
      new Option('--type <type>', 'channel type').choices([...NOTIFICATION_CHANNEL_TYPES]).makeOptionMandatory(),
    )
    .addOption(
      new Option('--min-severity <severity>', 'incidents of this severity or above notify')
        .choices([...SEVERITIES])
        .makeOptionMandatory(),
    )
    .option('--env <environment>', 'only clusters of this environment (repeatable)', collectEnvironment, [])
    .option('--label <key=value>', 'only clusters with this label (repeatable; all must match)', collect, [])
    .option('--hook-url <url>', 'webhook, slack, discord: where to POST (https:// or http://)')
    .option('--routing-key <key>', 'pagerduty: the integration key of the service')
    .option('--to <address>', 'email: a recipient (repeatable, or comma-separated)', collectAddresses, [])
    .option('--org <id>', 'the organization, when you are an admin of several')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<CreateOptions>();
      const config = channelConfig(opts);
      const filterLabels = parseLabels(opts.label);
      const req: CreateNotificationChannelRequest = { name, type: opts.type, minSeverity: opts.minSeverity, config };
      if (opts.env.length > 0 || Object.keys(filterLabels).length > 0) {
        req.filters = {
          ...(opts.env.length > 0 ? { environments: [...new Set(opts.env)] } : {}),
          ...(Object.keys(filterLabels).length > 0 ? { labels: filterLabels } : {}),
        };
      }
      if (opts.org !== undefined) req.orgId = opts.org;
      const api = await authenticatedClient(ctx, opts);
      const created = await api.createNotificationChannel(req);
      if (opts.output === 'json') return ctx.out.json(created);
      ctx.out.info(
        `Created ${created.type} channel ${created.name} (${created.id}), ${created.minSeverity} and above.`,
      );
      if (created.signingSecret !== undefined) {
        ctx.out.info(
          'Signing secret (verifies the webhook-signature header); keep it now, it will not be shown again:',
        );
        ctx.out.line(created.signingSecret);
      } else {
        ctx.out.line(created.id);
      }
      ctx.out.info(`Send a test notification with: niro channels test ${created.id}`);
    });

  channels
    .command('test')
    .description('Send a test notification now (admin); fails when the receiver does not accept it')
    .argument('<id-or-name>', 'channel id or name')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const api = await authenticatedClient(ctx, opts);
      const channel = await findChannel(api, ref);
      const result = await api.testNotificationChannel(channel.id);
      if (opts.output === 'json') ctx.out.json(result);
      if (!result.delivered) {
        throw new CliError(
          `the test notification to ${channel.name} was not delivered: ${result.error ?? 'no reason given'}`,
        );
      }
      if (opts.output !== 'json') ctx.out.line(`Test notification delivered to ${channel.name} (${target(channel)}).`);
    });

  channels
    .command('rm')
    .alias('delete')
    .description('Delete a channel and the notifications waiting for it (admin)')
    .argument('<id-or-name>', 'channel id or name')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const api = await authenticatedClient(ctx, opts);
      const channel = await findChannel(api, ref);
      await api.deleteNotificationChannel(channel.id);
      ctx.out.info(`Deleted channel ${channel.name} (${channel.id}).`);
    });
}
