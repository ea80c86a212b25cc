import { randomBytes } from 'node:crypto';
import type {
  CreatedNotificationChannel,
  CreateNotificationChannelRequest,
  NotificationChannel,
  NotificationChannelList,
  NotificationTestResult,
  UpdateNotificationChannelRequest,
} from '@niro/protocol';
import type { Kysely } from 'kysely';
import { iso, isoOrNull, type Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import type { Database } from '../../db/schema.js';
import { NotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import type { SecretBox } from '../../lib/secret-box.js';
import { isRecord } from '../../lib/validation.js';
import type { Logger } from '../../logger.js';
import type { RequestContext } from '../clusters/enrollment.service.js';
import type { AccessScope } from '../orgs/access.js';
import {
  invalid,
  parseChannelConfig,
  parseChannelSecrets,
  redactConfig,
  type ChannelSecrets,
  type RedactedConfig,
} from './channel-config.js';
import { eventIdFor, severityAtLeast, type Delivery, type IncidentEvent } from './notification-events.js';
import type { ChannelRow, NotificationsRepository, OutboxCounts } from './notifications.repository.js';
import { DeliveryError } from './senders/http-post.js';
import type { Senders } from './senders/senders.js';

type Filters = { environments: string[]; labels: Record<string, string> };

const NO_COUNTS: OutboxCounts = { pending: 0, failed: 0, nextAttemptAt: null };

/**
 * Notification channels (DESIGN 4.3) and the way into the outbox. Admins of a channel's org
 * create, change, test and delete it; every member of the org reads it. Channel configs are sealed
 * with the secret box; replies show a redacted config, and a webhook's signing secret only once.
 */
export class NotificationsService {
  private readonly wakeListeners = new Set<() => void>();

  constructor(
    private readonly deps: {
      repo: NotificationsRepository;
      box: SecretBox;
      senders: Senders;
      clock: Clock;
      logger: Logger;
      config: Pick<Config, 'smtp'>;
    },
  ) {}

  /**
   * Inserts one outbox row per matching channel, on `db` — the caller's transaction, so the
   * incident change and its notifications commit together. Matching: the incident's org or an
   * ancestor org (every org for a fleet-wide incident), severity at or above the channel's minimum,
   * and the channel's environment and label filters (which a cluster-less incident passes).
   * Returns how many rows were added; a repeated call adds none.
   */
  async enqueue(event: IncidentEvent, db: Kysely<Database>): Promise<number> {
    const repo = this.deps.repo.on(db);
    const { incident } = event;
    const orgIds = incident.orgId === null ? null : await repo.orgLineage(incident.orgId);
    const channels = await repo.channelsOf(orgIds);
    const now = this.deps.clock.now();
    const eventId = eventIdFor(event);
    const payload = JSON.stringify(event);
    let added = 0;
    for (const channel of channels) {
      if (!matches(channel, event)) continue;
      const inserted = await repo.enqueue({
        id: newId(now),
        channel_id: channel.id,
        event_id: eventId,
        payload,
        state: 'pending',
        attempts: 0,
        next_attempt_at: now,
        lease_until: null,
        enqueued_at: now,
        delivered_at: null,
        last_error: null,
      });
      if (inserted) added += 1;
    }
    if (added > 0) this.wake();
    return added;
  }

  /**
   * Asks the dispatcher to look at the outbox soon. enqueue() does it itself; a caller whose
   * transaction commits later may call it again after the commit to skip the polling delay.
   */
  wake(): void {
    for (const listener of this.wakeListeners) listener();
  }

  onWake(listener: () => void): () => void {
    this.wakeListeners.add(listener);
    return () => this.wakeListeners.delete(listener);
  }

  async list(scope: AccessScope): Promise<NotificationChannelList> {
    const rows = await this.deps.repo.listChannels(scope.orgIds);
    const counts = await this.deps.repo.outboxCounts(rows.map((r) => r.id));
    return { items: rows.map((r) => toChannel(r, counts.get(r.id) ?? NO_COUNTS)) };
  }

  async get(scope: AccessScope, id: string): Promise<NotificationChannel> {
    const row = await this.visible(scope, id);
    const counts = await this.deps.repo.outboxCounts([row.id]);
    return toChannel(row, counts.get(row.id) ?? NO_COUNTS);
  }

  async create(
    scope: AccessScope,
    input: CreateNotificationChannelRequest,
    ctx: RequestContext,
  ): Promise<CreatedNotificationChannel> {
    const orgId = scope.targetOrg(input.orgId, 'admin', 'Creating a notification channel');
    if (input.type === 'email' && this.deps.config.smtp === null) {
      throw invalid(
        'body.type',
        'email channels need outgoing mail: set NIRO_SMTP_URL and NIRO_SMTP_FROM on the server',
        'smtp_not_configured',
      );
    }
    const secrets = parseChannelConfig(input.type, input.config);
    const now = this.deps.clock.now();
    const id = newId(now);
    const redacted = redactConfig(secrets);
    const row: ChannelRow = {
      id,
      org_id: orgId,
      name: input.name.trim(),
      type: input.type,
      min_severity: input.minSeverity,
      filters: JSON.stringify(normalizeFilters(input.filters)),
      config_ciphertext: this.seal(id, secrets),
      config_redacted: JSON.stringify(redacted),
      created_at: now,
      updated_at: now,
      last_error: null,
      last_error_at: null,
      last_delivered_at: null,
    };
    await this.deps.repo.transaction(async (tx) => {
      await tx.notifications.insertChannel(row);
      await tx.audit.record({
        actor: ctx.actor,
        action: 'notification_channel.create',
        target: { type: 'notification_channel', id },
        orgId,
        ip: ctx.ip,
        details: { name: row.name, type: row.type, minSeverity: row.min_severity, config: redacted },
      });
    });
    this.deps.logger.info({ channelId: id, orgId, type: row.type }, 'notification channel created');
    const channel = toChannel(row, NO_COUNTS);
    return secrets.type === 'webhook' ? { ...channel, signingSecret: secrets.signingSecret } : channel;
  }

  async update(
    scope: AccessScope,
    id: string,
    input: UpdateNotificationChannelRequest,
    ctx: RequestContext,
  ): Promise<NotificationChannel> {
    const row = await this.visible(scope, id);
    scope.require(row.org_id, 'admin', 'Notification channel');
    const now = this.deps.clock.now();
    const patch: Parameters<NotificationsRepository['updateChannel']>[1] = { updated_at: now };
    const changed: string[] = [];
    if (input.name !== undefined) {
      patch.name = input.name.trim();
      changed.push('name');
    }
    if (input.minSeverity !== undefined) {
      patch.min_severity = input.minSeverity;
      changed.push('minSeverity');
    }
    if (input.filters !== undefined) {
      patch.filters = JSON.stringify(normalizeFilters(input.filters));
      changed.push('filters');
    }
    if (input.config !== undefined) {
      // A webhook keeps its signing secret; the other types need nothing from the old config.
      const existing = row.type === 'webhook' ? this.open(row) : undefined;
      const secrets = parseChannelConfig(row.type, input.config, existing);
      patch.config_ciphertext = this.seal(row.id, secrets);
      patch.config_redacted = JSON.stringify(redactConfig(secrets));
      changed.push('config');
    } else if (this.deps.box.isStale(row.config_ciphertext)) {
      // After a key rotation, every change re-seals the config under the current key.
      patch.config_ciphertext = this.seal(row.id, this.open(row));
    }
    const updated = { ...row, ...patch };
    await this.deps.repo.transaction(async (tx) => {
      if (!(await tx.notifications.updateChannel(id, patch))) throw new NotFoundError('Notification channel');
      await tx.audit.record({
        actor: ctx.actor,
        action: 'notification_channel.update',
        target: { type: 'notification_channel', id },
        orgId: row.org_id,
        ip: ctx.ip,
        details: { name: updated.name, type: row.type, changed, config: parseRedacted(updated.config_redacted) },
      });
    });
    const counts = await this.deps.repo.outboxCounts([id]);
    return toChannel(updated, counts.get(id) ?? NO_COUNTS);
  }

  async delete(scope: AccessScope, id: string, ctx: RequestContext): Promise<void> {
    const row = await this.visible(scope, id);
    scope.require(row.org_id, 'admin', 'Notification channel');
    await this.deps.repo.transaction(async (tx) => {
      if (!(await tx.notifications.deleteChannel(id))) throw new NotFoundError('Notification channel');
      await tx.audit.record({
        actor: ctx.actor,
        action: 'notification_channel.delete',
        target: { type: 'notification_channel', id },
        orgId: row.org_id,
        ip: ctx.ip,
        details: { name: row.name, type: row.type },
      });
    });
    this.deps.logger.info({ channelId: id, orgId: row.org_id }, 'notification channel deleted');
  }

  /**
   * Sends a test event now, past the outbox, and says what the receiver answered. The result is
   * also recorded on the channel's status.
   */
  async test(scope: AccessScope, id: string, ctx: RequestContext): Promise<NotificationTestResult> {
    const row = await this.visible(scope, id);
    scope.require(row.org_id, 'admin', 'Notification channel');
    const now = this.deps.clock.now();
    const testId = `test_${randomBytes(8).toString('hex')}`;
    const delivery: Delivery = {
      eventId: `evt_${testId}`,
      enqueuedAt: now,
      test: true,
      event: {
        kind: 'incident.opened',
        incident: {
          id: testId,
          orgId: row.org_id,
          clusterId: null,
          clusterName: 'niro-test',
          environment: null,
          clusterLabels: {},
          type: 'test',
          severity: 'info',
          title: `Niro can reach channel "${row.name}"`,
          fingerprint: `niro-test-${testId}`,
          openedAt: iso(now),
          resolvedAt: null,
          summary: 'This is a test notification sent from Niro. No action is needed.',
        },
      },
    };
    let error: string | undefined;
    try {
      await this.deliver(row, delivery, now);
    } catch (err) {
      error = deliveryErrorMessage(err);
    }
    await this.deps.repo.transaction(async (tx) => {
      if (error === undefined) await tx.notifications.recordChannelDelivered(id, now);
      else await tx.notifications.recordChannelError(id, error, now);
      await tx.audit.record({
        actor: ctx.actor,
        action: 'notification_channel.test',
        target: { type: 'notification_channel', id },
        orgId: row.org_id,
        ip: ctx.ip,
        outcome: error === undefined ? 'success' : 'failure',
        details: { name: row.name, type: row.type, ...(error === undefined ? {} : { error }) },
      });
    });
    this.deps.logger.info({ channelId: id, delivered: error === undefined }, 'notification channel tested');
    return error === undefined ? { delivered: true } : { delivered: false, error };
  }

  /** Opens the channel's config and hands the event to its sender; throws DeliveryError on failure. */
  async deliver(channel: ChannelRow, delivery: Delivery, attemptAtMs: number): Promise<void> {
    await this.deps.senders.send(this.open(channel), delivery, attemptAtMs);
  }

  private async visible(scope: AccessScope, id: string): Promise<ChannelRow> {
    const row = await this.deps.repo.findChannel(id);
    if (row === undefined || !scope.canSee(row.org_id)) throw new NotFoundError('Notification channel');
    return row;
  }

  private seal(channelId: string, secrets: ChannelSecrets): string {
    return this.deps.box.encrypt(JSON.stringify(secrets), `notification_channel:${channelId}`);
  }

  private open(row: ChannelRow): ChannelSecrets {
    let json: string;
    try {
      json = this.deps.box.decrypt(row.config_ciphertext, `notification_channel:${row.id}`);
    } catch (err) {
      throw new DeliveryError(
        `the channel's config cannot be decrypted (${err instanceof Error ? err.message : 'unknown error'})`,
        { cause: err },
      );
    }
    const secrets = parseChannelSecrets(json);
    if (secrets === null || secrets.type !== row.type)
      throw new DeliveryError("the channel's stored config is invalid");
    return secrets;
  }
}

/** A message safe to store and show: DeliveryErrors are worded for that; anything else is summarised. */
export function deliveryErrorMessage(err: unknown): string {
  if (err instanceof DeliveryError) return err.message;
  return `sending failed (${err instanceof Error ? err.name : 'unknown error'})`;
}

function matches(channel: ChannelRow, event: IncidentEvent): boolean {
  const { incident } = event;
  if (!severityAtLeast(incident.severity, channel.min_severity)) return false;
  const filters = parseFilters(channel.filters);
  if (incident.clusterId === null) return true;
  if (filters.environments.length > 0) {
    if (incident.environment === null || !filters.environments.includes(incident.environment)) return false;
  }
  for (const [key, value] of Object.entries(filters.labels)) {
    if (incident.clusterLabels[key] !== value) return false;
  }
  return true;
}

function normalizeFilters(input: CreateNotificationChannelRequest['filters']): Filters {
  return { environments: input?.environments ?? [], labels: input?.labels ?? {} };
}

function parseFilters(json: string): Filters {
  const out: Filters = { environments: [], labels: {} };
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return out;
  }
  if (!isRecord(v)) return out;
  if (Array.isArray(v.environments)) {
    out.environments = v.environments.filter((e): e is string => typeof e === 'string');
  }
  if (isRecord(v.labels)) {
    for (const [k, val] of Object.entries(v.labels)) if (typeof val === 'string') out.labels[k] = val;
  }
  return out;
}

function parseRedacted(json: string): RedactedConfig {
  const out: RedactedConfig = {};
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return out;
  }
  if (!isRecord(v)) return out;
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === 'string') out[k] = val;
    else if (Array.isArray(val)) out[k] = val.filter((x): x is string => typeof x === 'string');
  }
  return out;
}

function toChannel(row: ChannelRow, counts: OutboxCounts): NotificationChannel {
  const filters = parseFilters(row.filters);
  const environments = filters.environments.filter(
    (e): e is 'dev' | 'staging' | 'production' | 'unspecified' =>
      e === 'dev' || e === 'staging' || e === 'production' || e === 'unspecified',
  );
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    type: row.type,
    minSeverity: row.min_severity,
    filters: { environments, labels: filters.labels },
    config: parseRedacted(row.config_redacted),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    status: {
      healthy:
        row.last_error_at === null || (row.last_delivered_at !== null && row.last_delivered_at > row.last_error_at),
      lastDeliveredAt: isoOrNull(row.last_delivered_at),
      lastError: row.last_error,
      lastErrorAt: isoOrNull(row.last_error_at),
      pending: counts.pending,
      failed: counts.failed,
      nextAttemptAt: isoOrNull(counts.nextAttemptAt),
    },
  };
}
