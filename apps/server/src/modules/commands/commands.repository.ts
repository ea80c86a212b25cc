import type { CommandKind, CommandState } from '@niro/protocol';
import { sql, type ExpressionBuilder, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { Clock } from '../../clock.js';
import type { CommandsTable, Database } from '../../db/schema.js';
import { AuditRepository } from '../audit/audit.repository.js';
import { AuditService } from '../audit/audit.service.js';

export type CommandRow = Selectable<CommandsTable>;
export type NewCommandRow = Omit<Insertable<CommandsTable>, 'seq'>;

/** The states a command can still leave. */
const OPEN_STATES: readonly CommandState[] = ['queued', 'delivered'];

export type ClaimOptions = {
  /** Most commands handed out at once. */
  limit: number;
  /** Payload characters handed out at once at most (the first command always goes). */
  maxPayloadChars: number;
  /** When an unacknowledged delivery may be repeated. */
  redeliverAt: number;
};

export type CommandListFilter = {
  state?: CommandState;
  kind?: CommandKind;
  /** Only commands older than this sequence number (keyset paging). */
  beforeSeq?: number;
  limit: number;
};

export type AgentResult = {
  status: 'succeeded' | 'failed' | 'partial';
  result: string | null;
  error: string | null;
};

/** Writes that must commit together, inside one transaction. */
export type CommandsUnitOfWork = { commands: CommandsRepository; audit: AuditService };

/**
 * The only SQL of the command queue. Every state change is one conditional UPDATE whose WHERE
 * repeats the state it expects, so concurrent callers (two long-polls, a result racing the
 * expiry sweep, two replicas) never both win: SQLite runs one writer at a time, and PostgreSQL
 * re-checks the WHERE of a row another transaction changed once that one commits.
 */
export class CommandsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  /** Runs `fn` in one transaction with repositories bound to it. */
  transaction<T>(fn: (tx: CommandsUnitOfWork) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) =>
      fn({
        commands: new CommandsRepository(trx, this.clock),
        audit: new AuditService(new AuditRepository(trx), this.clock),
      }),
    );
  }

  insert(row: NewCommandRow): Promise<CommandRow> {
    return this.db.insertInto('commands').values(row).returningAll().executeTakeFirstOrThrow();
  }

  findById(id: string): Promise<(CommandRow & { org_id: string }) | undefined> {
    return this.db
      .selectFrom('commands')
      .innerJoin('clusters', 'clusters.id', 'commands.cluster_id')
      .selectAll('commands')
      .select('clusters.org_id')
      .where('commands.id', '=', id)
      .executeTakeFirst();
  }

  findOfCluster(clusterId: string, id: string): Promise<CommandRow | undefined> {
    return this.db
      .selectFrom('commands')
      .selectAll()
      .where('id', '=', id)
      .where('cluster_id', '=', clusterId)
      .executeTakeFirst();
  }

  findByIdempotencyKey(clusterId: string, key: string): Promise<CommandRow | undefined> {
    return this.db
      .selectFrom('commands')
      .selectAll()
      .where('cluster_id', '=', clusterId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
  }

  /** Commands of one cluster, newest first; `state` is the state as the API shows it at `now`. */
  list(clusterId: string, filter: CommandListFilter, now: number): Promise<CommandRow[]> {
    let q = this.db.selectFrom('commands').selectAll().where('cluster_id', '=', clusterId);
    const state = filter.state;
    if (state === 'expired') {
      q = q.where((eb) =>
        eb.or([eb('state', '=', 'expired'), eb.and([eb('state', 'in', OPEN_STATES), eb('expires_at', '<=', now)])]),
      );
    } else if (state === 'queued' || state === 'delivered') {
      q = q.where('state', '=', state).where('expires_at', '>', now);
    } else if (state !== undefined) {
      q = q.where('state', '=', state);
    }
    if (filter.kind !== undefined) q = q.where('kind', '=', filter.kind);
    if (filter.beforeSeq !== undefined) q = q.where('seq', '<', filter.beforeSeq);
    return q.orderBy('seq', 'desc').limit(filter.limit).execute();
  }

  /**
   * Hands out the cluster's deliverable commands in creation order and marks them delivered:
   * queued ones, and delivered ones nobody acknowledged before their redelivery time; never
   * one past its expiry. Returns only the rows this call changed.
   */
  async claim(clusterId: string, now: number, options: ClaimOptions): Promise<CommandRow[]> {
    const deliverable = (eb: ExpressionBuilder<Database, 'commands'>) =>
      eb.and([
        eb('expires_at', '>', now),
        eb.or([eb('state', '=', 'queued'), eb.and([eb('state', '=', 'delivered'), eb('redeliver_at', '<=', now)])]),
      ]);
    const candidates = await this.db
      .selectFrom('commands')
      .select(['id', sql<number>`length(payload)`.as('size')])
      .where('cluster_id', '=', clusterId)
      .where(deliverable)
      .orderBy('seq')
      .limit(options.limit)
      .execute();
    const ids: string[] = [];
    let chars = 0;
    for (const c of candidates) {
      chars += Number(c.size);
      if (ids.length > 0 && chars > options.maxPayloadChars) break;
      ids.push(c.id);
    }
    if (ids.length === 0) return [];
    const claimed = await this.db
      .updateTable('commands')
      .set((eb) => ({
        state: 'delivered',
        deliveries: eb('deliveries', '+', 1),
        delivered_at: now,
        redeliver_at: options.redeliverAt,
      }))
      .where('id', 'in', ids)
      .where('cluster_id', '=', clusterId)
      .where(deliverable)
      .returningAll()
      .execute();
    return claimed.sort((a, b) => a.seq - b.seq);
  }

  /** Stops redelivery of a delivered command; false when it was not awaiting an acknowledgement. */
  async acknowledge(clusterId: string, id: string, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable('commands')
      .set({ acked_at: now, redeliver_at: null })
      .where('id', '=', id)
      .where('cluster_id', '=', clusterId)
      .where('state', '=', 'delivered')
      .where('acked_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** Records the agent's result if the command is still open and unexpired; undefined otherwise. */
  complete(clusterId: string, id: string, now: number, outcome: AgentResult): Promise<CommandRow | undefined> {
    return this.db
      .updateTable('commands')
      .set((eb) => ({
        state: outcome.status,
        completed_at: now,
        result: outcome.result,
        error: outcome.error,
        redeliver_at: null,
        acked_at: eb.fn.coalesce('acked_at', eb.val(now)),
      }))
      .where('id', '=', id)
      .where('cluster_id', '=', clusterId)
      .where('state', 'in', OPEN_STATES)
      .where('expires_at', '>', now)
      .returningAll()
      .executeTakeFirst();
  }

  /** Cancels an open, unexpired command; undefined when it was not. */
  cancel(id: string, now: number): Promise<CommandRow | undefined> {
    return this.db
      .updateTable('commands')
      .set({ state: 'cancelled', completed_at: now, redeliver_at: null })
      .where('id', '=', id)
      .where('state', 'in', OPEN_STATES)
      .where('expires_at', '>', now)
      .returningAll()
      .executeTakeFirst();
  }

  /** Marks every open command past its expiry `expired`; returns how many. */
  async expireDue(now: number): Promise<number> {
    const res = await this.db
      .updateTable('commands')
      .set((eb) => ({ state: 'expired', completed_at: eb.ref('expires_at'), redeliver_at: null }))
      .where('state', 'in', OPEN_STATES)
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  /** Whether `keyHash` is still the cluster's agent key (a replaced key must not take commands). */
  async agentKeyCurrent(clusterId: string, keyHash: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('clusters')
      .select('id')
      .where('id', '=', clusterId)
      .where('agent_key_hash', '=', keyHash)
      .executeTakeFirst();
    return row !== undefined;
  }
}

/** Unique-constraint violations on SQLite and PostgreSQL. */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('code' in err)) return false;
  return err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === '23505';
}
