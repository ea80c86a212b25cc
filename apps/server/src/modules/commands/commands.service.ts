import {
  ApplyPayload,
  CAPABILITY_GRANTS,
  COMMAND_CAPABILITY,
  COMMAND_KINDS,
  COMMAND_LIMITS,
  Capabilities,
  CommandError,
  DeletePayload,
  DiffPayload,
  FINAL_COMMAND_STATES,
  LogsPayload,
  LogsStopPayload,
  PingPayload,
  SelfUpdatePayload,
  type Command,
  type CommandKind,
  type CommandList,
  type CommandMessage,
  type CommandResultBody,
  type CommandResultReply,
  type CommandState,
  type CreateCommandRequest,
  type ListCommandsQuery,
} from '@niro/protocol';
import { canonicalJson } from '@niro/protocol/inventory-hash';
import { Type, type TObject } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import { Value } from 'typebox/value';
import { iso, isoOrNull, type Clock } from '../../clock.js';
import { BadRequestError, ConflictError, NiroError, NotFoundError, UnauthorizedError } from '../../errors.js';
import { newId, sha256Hex } from '../../lib/ids.js';
import type { Metrics } from '../../lib/metrics.js';
import type { SecretBox } from '../../lib/secret-box.js';
import { isRecord, type FieldError } from '../../lib/validation.js';
import type { Logger } from '../../logger.js';
import type { RequestContext } from '../clusters/enrollment.service.js';
import type { ClustersService } from '../clusters/clusters.service.js';
import type { AgentIdentity } from '../heartbeat/heartbeat.service.js';
import type { AccessScope } from '../orgs/access.js';
import type { CommandNotifier } from './command-notifier.js';
import {
  isUniqueViolation,
  type CommandRow,
  type CommandsRepository,
  type NewCommandRow,
} from './commands.repository.js';

export type CommandsServiceOptions = {
  /** A delivered command nobody acknowledged is handed out again after this long. */
  redeliveryAfterMs: number;
  /** Most commands in one long-poll reply (or one claim of the WebSocket gateway). */
  claimLimit: number;
  /** Payload characters in one claim at most, so a reply stays bounded (one command always goes). */
  claimPayloadChars: number;
};

export const DEFAULT_COMMANDS_OPTIONS: CommandsServiceOptions = {
  redeliveryAfterMs: 60_000,
  claimLimit: 20,
  claimPayloadChars: 8 * 1024 * 1024,
};

/** Resolves an agent's bearer key to its cluster (the heartbeat service does this for every route). */
export type AgentAuthenticator = { authenticate(authorization: string | undefined): Promise<AgentIdentity> };

export type CommandsDeps = {
  repo: CommandsRepository;
  clock: Clock;
  logger: Logger;
  clusters: ClustersService;
  agents: AgentAuthenticator;
  notifier: CommandNotifier;
  /** Counts recorded and repeated results (a repeat follows a dropped connection between result and result-ack). */
  metrics?: Pick<Metrics, 'commandResults'>;
  /** Seals manifests that must not rest in the clear (CreateOptions.sealedManifests). */
  box?: SecretBox;
};

/** For other modules creating commands. */
export type CreateOptions = {
  /**
   * `apply` only: manifests (pull Secrets) put in front of the payload's when the command is
   * delivered. They are stored sealed, and never shown by the API or in the command's payload.
   */
  sealedManifests?: string;
  /** Created by Niro itself (a drift check): no user is recorded as its creator. */
  system?: boolean;
};

/** A payload or result larger than the protocol allows. */
export class CommandTooLargeError extends NiroError {
  constructor(code: string, message: string) {
    super(413, code, message);
  }
}

const KEY_REPLACED_MESSAGE = 'The agent key was replaced or its cluster deleted; re-enroll the agent';

const FINAL = new Set<CommandState>(FINAL_COMMAND_STATES);
const ANSWERED = new Set<CommandState>(['succeeded', 'failed', 'partial']);

/** Payload schemas, closed on the server so a misspelled field is a 400 rather than ignored. */
const PAYLOADS: Record<CommandKind, TObject> = {
  ping: PingPayload,
  apply: ApplyPayload,
  delete: DeletePayload,
  diff: DiffPayload,
  logs: LogsPayload,
  'logs-stop': LogsStopPayload,
  'self-update': SelfUpdatePayload,
};
const PAYLOAD_VALIDATORS = new Map<CommandKind, Validator>(
  COMMAND_KINDS.map((kind) => [kind, Compile(Type.Object(PAYLOADS[kind].properties, { additionalProperties: false }))]),
);

/** Told about each recorded result, after it is stored; errors are logged, never the agent's problem. */
export type CommandResultListener = (
  clusterId: string,
  command: {
    id: string;
    kind: CommandKind;
    payload: unknown;
    status: CommandResultBody['status'];
    result: unknown;
    error: CommandError | null;
  },
) => Promise<void>;

/**
 * The durable command queue (DESIGN 3.3). People create, read and cancel commands through the
 * API; agents take them over a long-poll (or the WebSocket gateway), acknowledge and answer
 * them. Delivery is at-least-once and in creation order per cluster; the first result wins.
 *
 * For the transports: `claim` hands out what is deliverable now, `poll` waits for it,
 * `acknowledge` and `recordResult` take the agent's messages, and `notifier` tells a held
 * connection when to claim again.
 */
export class CommandsService {
  readonly notifier: CommandNotifier;
  private readonly repo: CommandsRepository;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly clusters: ClustersService;
  private readonly agents: AgentAuthenticator;
  private readonly options: CommandsServiceOptions;
  private readonly metrics: Pick<Metrics, 'commandResults'> | undefined;
  private readonly box: SecretBox | undefined;
  private resultListener: CommandResultListener | null = null;
  /** Aborted on shutdown: every waiting long-poll answers at once. */
  private readonly closing = new AbortController();
  private readonly waiting = new Map<string, number>();

  constructor(deps: CommandsDeps, options: Partial<CommandsServiceOptions> = {}) {
    this.repo = deps.repo;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.clusters = deps.clusters;
    this.agents = deps.agents;
    this.notifier = deps.notifier;
    this.metrics = deps.metrics;
    this.box = deps.box;
    this.options = { ...DEFAULT_COMMANDS_OPTIONS, ...options };
  }

  // -------------------------------------------------------------------------------------------
  // People (HTTP API v1)

  /**
   * Queues a command for a cluster. With an idempotency key already used on this cluster, the
   * same request returns the existing command (`created: false`) and a different one is a 409.
   */
  async create(
    scope: AccessScope,
    clusterId: string,
    input: CreateCommandRequest,
    ctx: RequestContext,
    options: CreateOptions = {},
  ): Promise<{ command: Command; created: boolean }> {
    const cluster = await this.clusters.find(scope, clusterId);
    scope.require(cluster.org_id, 'member', 'Cluster');
    const payload = input.payload ?? {};
    const payloadText = JSON.stringify(payload);
    if (Buffer.byteLength(payloadText) > COMMAND_LIMITS.payloadBytes) {
      throw new CommandTooLargeError(
        'command_payload_too_large',
        `The payload is ${Buffer.byteLength(payloadText)} bytes as JSON; a command's payload may have at most ${COMMAND_LIMITS.payloadBytes}`,
      );
    }
    checkPayload(input.kind, payload);
    const requestHash = sha256Hex(canonicalJson({ kind: input.kind, payload }));
    const key = input.idempotencyKey;
    if (key !== undefined) {
      const existing = await this.repo.findByIdempotencyKey(cluster.id, key);
      if (existing !== undefined) return this.replay(existing, requestHash, key);
    }
    checkCapability(input.kind, cluster.name, cluster.capabilities);

    const now = this.clock.now();
    const id = newId(now);
    const row: NewCommandRow = {
      id,
      cluster_id: cluster.id,
      kind: input.kind,
      payload: payloadText,
      state: 'queued',
      idempotency_key: key ?? null,
      request_hash: requestHash,
      created_at: now,
      created_by: options.system === true ? null : scope.userId,
      expires_at: now + (input.expiresInSeconds ?? COMMAND_LIMITS.defaultExpirySeconds) * 1000,
      delivered_at: null,
      deliveries: 0,
      redeliver_at: null,
      acked_at: null,
      completed_at: null,
      result: null,
      error: null,
      sealed_manifests: this.seal(input.kind, id, options.sealedManifests),
    };
    let inserted: CommandRow;
    try {
      inserted = await this.repo.transaction(async (tx) => {
        const stored = await tx.commands.insert(row);
        // Kind and ids only: payloads carry manifests, which may hold secrets.
        await tx.audit.record({
          actor: ctx.actor,
          action: 'command.create',
          target: { type: 'command', id: row.id },
          orgId: cluster.org_id,
          ip: ctx.ip,
          details: { kind: row.kind, clusterId: cluster.id },
        });
        return stored;
      });
    } catch (err) {
      // Two creations with one key at the same time: the unique index let one through.
      if (key !== undefined && isUniqueViolation(err)) {
        const existing = await this.repo.findByIdempotencyKey(cluster.id, key);
        if (existing !== undefined) return this.replay(existing, requestHash, key);
      }
      throw err;
    }
    this.logger.info({ commandId: row.id, clusterId: cluster.id, kind: row.kind }, 'command queued');
    this.notifier.notify(cluster.id);
    return { command: toCommand(inserted, now), created: true };
  }

  async get(scope: AccessScope, id: string): Promise<Command> {
    const row = await this.repo.findById(id);
    if (row === undefined || !scope.canSee(row.org_id)) throw new NotFoundError('Command');
    return toCommand(row, this.clock.now());
  }

  /** The cluster's commands, newest first, in keyset pages. */
  async list(scope: AccessScope, clusterId: string, query: ListCommandsQuery): Promise<CommandList> {
    const cluster = await this.clusters.find(scope, clusterId);
    const limit = query.limit ?? 20;
    const beforeSeq = query.cursor === undefined ? undefined : parseCursor(query.cursor);
    const now = this.clock.now();
    const rows = await this.repo.list(
      cluster.id,
      { state: query.state, kind: query.kind, beforeSeq, limit: limit + 1 },
      now,
    );
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map((r) => toCommand(r, now)),
      nextCursor: rows.length > limit && last !== undefined ? String(last.seq) : null,
    };
  }

  /** Cancels a queued or delivered command; an agent that already runs it is not stopped. */
  async cancel(scope: AccessScope, id: string, ctx: RequestContext): Promise<Command> {
    const found = await this.repo.findById(id);
    if (found === undefined || !scope.canSee(found.org_id)) throw new NotFoundError('Command');
    scope.require(found.org_id, 'member', 'Command');
    const now = this.clock.now();
    const cancelled = await this.repo.transaction(async (tx) => {
      const row = await tx.commands.cancel(id, now);
      if (row !== undefined) {
        await tx.audit.record({
          actor: ctx.actor,
          action: 'command.cancel',
          target: { type: 'command', id },
          orgId: found.org_id,
          ip: ctx.ip,
          details: { kind: row.kind, clusterId: row.cluster_id },
        });
      }
      return row;
    });
    if (cancelled === undefined) {
      const current = await this.repo.findById(id);
      const state = current === undefined ? 'unknown' : toCommand(current, now).state;
      throw new ConflictError(
        'command_already_final',
        `The command already ended (${state}); only queued or delivered commands can be cancelled`,
        { state },
      );
    }
    this.logger.info({ commandId: id, clusterId: cancelled.cluster_id }, 'command cancelled');
    return toCommand(cancelled, now);
  }

  // -------------------------------------------------------------------------------------------
  // Agents (agent protocol 3.3)

  /**
   * The agent's cluster, from its bearer key. Beyond the heartbeat's check (which may answer
   * from a cache), the key must still be the cluster's current one: commands never go to an
   * agent whose key was replaced.
   */
  async authenticateAgent(authorization: string | undefined): Promise<AgentIdentity> {
    const agent = await this.agents.authenticate(authorization);
    if (!(await this.repo.agentKeyCurrent(agent.clusterId, agent.keyHash))) {
      throw new UnauthorizedError('invalid_agent_key', KEY_REPLACED_MESSAGE);
    }
    return agent;
  }

  /** Marks the cluster's deliverable commands delivered and returns them in creation order. */
  async claim(clusterId: string): Promise<CommandMessage[]> {
    const now = this.clock.now();
    const rows = await this.repo.claim(clusterId, now, {
      limit: this.options.claimLimit,
      maxPayloadChars: this.options.claimPayloadChars,
      redeliverAt: now + this.options.redeliveryAfterMs,
    });
    if (rows.length > 0) {
      this.logger.debug({ clusterId, commandIds: rows.map((r) => r.id) }, 'commands delivered');
    }
    const messages: CommandMessage[] = [];
    for (const row of rows) {
      const message = await this.openSealed(row);
      if (message !== null) messages.push(message);
    }
    return messages;
  }

  private seal(kind: CommandKind, id: string, manifests: string | undefined): string | null {
    if (manifests === undefined || manifests === '') return null;
    if (kind !== 'apply') throw new Error('sealed manifests are only for apply commands');
    if (this.box === undefined) throw new Error('sealed manifests need the secret box');
    return this.box.encrypt(manifests, id);
  }

  /**
   * The wire message of a claimed command, with its sealed manifests opened. One that cannot be
   * opened (its key left NIRO_SECRET_KEY meanwhile) fails rather than reach the agent without them.
   */
  private async openSealed(row: CommandRow): Promise<CommandMessage | null> {
    const message = toMessage(row);
    if (row.sealed_manifests === null) return message;
    try {
      if (this.box === undefined) throw new Error('no secret box');
      const sealed = this.box.decrypt(row.sealed_manifests, row.id);
      const manifests = typeof message.payload.manifests === 'string' ? message.payload.manifests : '';
      return { ...message, payload: { ...message.payload, manifests: `${sealed}\n---\n${manifests}` } };
    } catch (err) {
      this.logger.error(
        { commandId: row.id, clusterId: row.cluster_id, err: err instanceof Error ? err.message : String(err) },
        'sealed manifests of a command cannot be opened; the command fails',
      );
      const error = {
        code: 'sealed_manifests_unreadable',
        message:
          'The registry credentials of this command cannot be decrypted (was its key removed from NIRO_SECRET_KEY?); apply again',
      };
      await this.recordResult({ clusterId: row.cluster_id, orgId: '', keyHash: '' }, row.id, {
        status: 'failed',
        error,
      }).catch((e: unknown) => this.logger.warn({ err: e, commandId: row.id }, 'could not fail a command'));
      return null;
    }
  }

  /**
   * Long-poll: claims at once, or waits up to `waitMs` for a wake-up and claims then. Answers
   * an empty list after the wait, when `signal` aborts (the client went away; nothing is
   * claimed then) or on shutdown.
   */
  async poll(agent: AgentIdentity, waitMs: number, signal?: AbortSignal): Promise<CommandMessage[]> {
    const { clusterId } = agent;
    if (waitMs <= 0) return this.claim(clusterId);
    const deadline = performance.now() + waitMs;
    let woken = false;
    let wake: (() => void) | null = null;
    // Subscribed before the first claim, so a command created in between is not missed.
    const unsubscribe = this.notifier.subscribe(clusterId, () => {
      woken = true;
      wake?.();
    });
    this.waiting.set(clusterId, (this.waiting.get(clusterId) ?? 0) + 1);
    try {
      for (let first = true; ; first = false) {
        if (signal?.aborted === true) return [];
        // The key may have been replaced while this poll waited.
        if (!first && !(await this.repo.agentKeyCurrent(clusterId, agent.keyHash))) {
          throw new UnauthorizedError('invalid_agent_key', KEY_REPLACED_MESSAGE);
        }
        woken = false;
        const claimed = await this.claim(clusterId);
        if (claimed.length > 0) return claimed;
        const remaining = deadline - performance.now();
        if (remaining <= 0 || this.closing.signal.aborted) return [];
        if (woken) continue;
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            this.closing.signal.removeEventListener('abort', done);
            wake = null;
            resolve();
          };
          const timer = setTimeout(done, remaining);
          wake = done;
          signal?.addEventListener('abort', done, { once: true });
          this.closing.signal.addEventListener('abort', done, { once: true });
          // Aborted while claiming: an abort event will not come again.
          if (signal?.aborted === true) done();
        });
      }
    } finally {
      unsubscribe();
      const n = (this.waiting.get(clusterId) ?? 1) - 1;
      if (n === 0) this.waiting.delete(clusterId);
      else this.waiting.set(clusterId, n);
    }
  }

  /** Long-polls waiting for a cluster right now. */
  waitingPolls(clusterId: string): number {
    return this.waiting.get(clusterId) ?? 0;
  }

  /** The agent received a command: it is not redelivered any more. Repeating it is harmless. */
  /** Who hears about each recorded result (incident detection reads `diff` results). */
  onResult(listener: CommandResultListener): void {
    this.resultListener = listener;
  }

  async acknowledge(agent: AgentIdentity, id: string): Promise<void> {
    if (await this.repo.acknowledge(agent.clusterId, id, this.clock.now())) return;
    if ((await this.repo.findOfCluster(agent.clusterId, id)) === undefined) throw new NotFoundError('Command');
  }

  /**
   * Ends a command with the agent's result. A repeated result of a command that already has one
   * changes nothing (`recorded: false`); a result for a cancelled or expired command is refused.
   */
  async recordResult(agent: AgentIdentity, id: string, body: CommandResultBody): Promise<CommandResultReply> {
    const result = body.result === undefined ? null : JSON.stringify(body.result);
    if (result !== null && Buffer.byteLength(result) > COMMAND_LIMITS.resultBytes) {
      throw new CommandTooLargeError(
        'command_result_too_large',
        `The result is ${Buffer.byteLength(result)} bytes as JSON; a command's result may have at most ${COMMAND_LIMITS.resultBytes}`,
      );
    }
    const error =
      body.error === undefined ? null : JSON.stringify({ code: body.error.code, message: body.error.message });
    const now = this.clock.now();
    const done = await this.repo.complete(agent.clusterId, id, now, { status: body.status, result, error });
    if (done !== undefined) {
      this.logger.info(
        {
          commandId: id,
          clusterId: agent.clusterId,
          kind: done.kind,
          state: body.status,
          roundTripMs: now - done.created_at,
        },
        'command completed',
      );
      this.metrics?.commandResults.inc({ outcome: 'recorded' });
      if (this.resultListener !== null) {
        let payload: unknown = null;
        try {
          payload = JSON.parse(done.payload);
        } catch {
          payload = null;
        }
        await this.resultListener(agent.clusterId, {
          id,
          kind: done.kind,
          payload,
          status: body.status,
          result: body.result ?? null,
          error: body.error ?? null,
        }).catch((err: unknown) => this.logger.warn({ err, commandId: id }, 'a command result listener failed'));
      }
      return { id, state: body.status, recorded: true };
    }
    const row = await this.repo.findOfCluster(agent.clusterId, id);
    if (row === undefined) throw new NotFoundError('Command');
    if (row.state === 'succeeded' || row.state === 'failed' || row.state === 'partial') {
      this.metrics?.commandResults.inc({ outcome: 'duplicate' });
      return { id, state: row.state, recorded: false };
    }
    if (row.state === 'cancelled') {
      throw new ConflictError(
        'command_cancelled',
        'The command was cancelled before its result arrived; the result was not recorded',
      );
    }
    throw new ConflictError(
      'command_expired',
      `The command expired at ${iso(row.expires_at)} before its result arrived; the result was not recorded`,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Housekeeping

  /** Marks open commands past their expiry `expired` (see jobs/command-expiry.job.ts). */
  async expireDue(): Promise<number> {
    const n = await this.repo.expireDue(this.clock.now());
    if (n > 0) this.logger.info({ commands: n }, 'commands expired');
    return n;
  }

  /** Ends every waiting long-poll (with an empty answer), so the server can close. */
  close(): void {
    this.closing.abort();
  }

  private replay(existing: CommandRow, requestHash: string, key: string): { command: Command; created: boolean } {
    if (existing.request_hash !== requestHash) {
      throw new ConflictError(
        'idempotency_conflict',
        `The idempotency key "${key}" was already used on this cluster for a different command (${existing.id}); use a new key for a new command`,
        { commandId: existing.id },
      );
    }
    return { command: toCommand(existing, this.clock.now()), created: false };
  }
}

function checkPayload(kind: CommandKind, payload: Record<string, unknown>): void {
  const validator = PAYLOAD_VALIDATORS.get(kind);
  if (validator === undefined || validator.Check(payload)) return;
  const fields: FieldError[] = [];
  for (const e of validator.Errors(payload)) {
    const base = `body.payload${e.instancePath.replace(/\//g, '.')}`;
    const params: Record<string, unknown> = isRecord(e.params) ? e.params : {};
    if (e.keyword === 'required' && Array.isArray(params.requiredProperties)) {
      for (const p of params.requiredProperties) fields.push({ field: `${base}.${String(p)}`, message: 'is required' });
    } else if (e.keyword === 'additionalProperties' && Array.isArray(params.additionalProperties)) {
      for (const p of params.additionalProperties) {
        fields.push({ field: `${base}.${String(p)}`, message: `is not a known field of a ${kind} payload` });
      }
    } else if (e.keyword !== 'boolean') {
      fields.push({ field: base, message: e.message });
    }
    if (fields.length >= 5) break;
  }
  if (fields.length === 0) fields.push({ field: 'body.payload', message: `is not a valid ${kind} payload` });
  throw new BadRequestError(
    'invalid_request',
    `Invalid request: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`,
    { fields },
  );
}

/** 409 capability_disabled, saying how to enable it, unless the cluster reported what `kind` needs. */
export function checkCapability(kind: CommandKind, clusterName: string, capabilitiesText: string | null): void {
  const capability = COMMAND_CAPABILITY[kind];
  if (capability === null) return;
  const envVar = CAPABILITY_GRANTS[capability].envVar;
  const reported = parseCapabilities(capabilitiesText);
  if (reported !== null && reported[capability]) return;
  const why =
    reported === null
      ? `The agent of cluster "${clusterName}" has not reported its capabilities yet (no heartbeat so far)`
      : `The agent of cluster "${clusterName}" reports the ${capability} capability as disabled`;
  throw new ConflictError(
    'capability_disabled',
    `${why}, and ${kind} commands need it. Enable it by re-running the installer with ${envVar}=1 (no new token is needed); the agent reports it with its next heartbeat.`,
    { capability, envVar },
  );
}

function parseCapabilities(text: string | null): Capabilities | null {
  if (text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    return Value.Check(Capabilities, v) ? v : null;
  } catch {
    return null;
  }
}

function parseCursor(cursor: string): number {
  if (!/^[1-9]\d{0,14}$/.test(cursor)) {
    throw new BadRequestError('invalid_cursor', 'Invalid request: querystring.cursor: use the nextCursor of a page', {
      fields: [{ field: 'querystring.cursor', message: 'is not a cursor of this list' }],
    });
  }
  return Number(cursor);
}

function parseObject(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    return isRecord(v) ? v : null;
  } catch {
    return null;
  }
}

/** A stored `{code, message}` error (of a command, or of a deployment revision's apply). */
export function parseCommandError(text: string | null): CommandError | null {
  const v = parseObject(text);
  return v !== null && Value.Check(CommandError, v) ? { code: v.code, message: v.message } : null;
}

/** The API view. An open command past its expiry shows as expired even before the sweep marks it. */
export function toCommand(row: CommandRow, now: number): Command {
  const lapsed = !FINAL.has(row.state) && row.expires_at <= now;
  const state: CommandState = lapsed ? 'expired' : row.state;
  const completedAt = lapsed ? row.expires_at : row.completed_at;
  return {
    id: row.id,
    clusterId: row.cluster_id,
    kind: row.kind,
    payload: parseObject(row.payload) ?? {},
    state,
    createdAt: iso(row.created_at),
    createdBy: row.created_by,
    expiresAt: iso(row.expires_at),
    deliveredAt: isoOrNull(row.delivered_at),
    completedAt: isoOrNull(completedAt),
    deliveries: row.deliveries,
    result: parseObject(row.result),
    error: parseCommandError(row.error),
    roundTripMs: ANSWERED.has(state) && row.completed_at !== null ? row.completed_at - row.created_at : null,
  };
}

/** The wire message an agent receives (the same over long-poll and WebSocket). */
export function toMessage(row: CommandRow): CommandMessage {
  return {
    type: 'command',
    id: row.id,
    kind: row.kind,
    payload: parseObject(row.payload) ?? {},
    issuedAt: iso(row.created_at),
    expiresAt: iso(row.expires_at),
  };
}
