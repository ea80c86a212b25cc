import type { Capabilities, CommandMessage, CommandResultBody } from '@niro/protocol';
import { COMMAND_CAPABILITY, COMMAND_KINDS, COMMAND_LIMITS, type CommandKind } from '@niro/protocol/commands';
import type { Logger } from '../logger.js';
import { isRecord } from '../kube/kube-object.js';
import type { KubeApi } from '../kube/types.js';
import { applyManifests } from './apply.js';
import { deleteObjects } from './delete.js';
import type { CommandDeps } from './deps.js';
import { diffManifests } from './diff.js';
import type { Discovery } from './discovery.js';
import type { CommandLedger } from './ledger.js';
import { checkApplyPayload, checkDeletePayload, checkSelfUpdatePayload, type Checked } from './payloads.js';
import { errorText, failure, toResultBody, type Outcome } from './results.js';
import { selfUpdate } from './self-update.js';

/** A kind handled outside the executor (log streams, which need the connection). */
export type CommandHandler = (cmd: CommandMessage) => Promise<CommandResultBody>;

export type CommandContext = {
  api: KubeApi;
  /** As last detected; a kind whose capability is off is refused. */
  capabilities: Capabilities;
  logger: Logger;
  /** The agent's own namespace, where its Deployment lives (self-update). */
  namespace: string;
  /** Kept for the agent's life: the same command id never runs twice. */
  ledger: CommandLedger;
  /** Kept for the agent's life: API discovery cache. */
  discovery: Discovery;
  /** `logs` and `logs-stop`, plugged in by the connection; without one they fail with `unsupported_kind`. */
  handlers?: Partial<Record<CommandKind, CommandHandler>>;
  /** Default 60 s. */
  crdTimeoutMs?: number;
  now?: () => number;
};

const DEFAULT_CRD_TIMEOUT_MS = 60_000;
const KINDS: ReadonlySet<string> = new Set(COMMAND_KINDS);

/**
 * Runs one command and says how it went. Never throws: refusals, bad payloads and unexpected
 * errors all become `failed` results with a code. A command id seen before is not run again; its
 * first result is returned. Payloads are never logged (manifests may hold Secrets).
 */
export async function executeCommand(cmd: CommandMessage, context: CommandContext): Promise<CommandResultBody> {
  const { result, repeated } = context.ledger.run(cmd.id, () => run(cmd, context));
  if (repeated) {
    context.logger.debug({ commandId: cmd.id, kind: cmd.kind }, 'command seen before: first result returned');
  }
  return result;
}

async function run(cmd: CommandMessage, context: CommandContext): Promise<CommandResultBody> {
  const now = context.now ?? Date.now;
  const started = now();
  const log = context.logger.child({ commandId: cmd.id, kind: cmd.kind });
  let body: CommandResultBody;
  try {
    body = toResultBody(await dispatch(cmd, context), COMMAND_LIMITS.resultBytes);
  } catch (err) {
    log.error({ err: errorText(err) }, 'command failed unexpectedly');
    body = { status: 'failed', error: failure('agent_error', errorText(err)) };
  }
  const fields: Record<string, unknown> = { status: body.status, durationMs: now() - started };
  if (body.error !== undefined) fields.code = body.error.code;
  log.info(fields, 'command done');
  return body;
}

async function dispatch(cmd: CommandMessage, context: CommandContext): Promise<Outcome> {
  const kind: string = cmd.kind;
  if (!isCommandKind(kind)) {
    return { status: 'failed', error: failure('unsupported_kind', `this agent does not know command kind "${kind}"`) };
  }
  const capability = COMMAND_CAPABILITY[kind];
  if (capability !== null && !context.capabilities[capability]) {
    return {
      status: 'failed',
      error: failure(
        'capability_disabled',
        `the ${capability} capability is off in this cluster; re-run the install command with it enabled`,
      ),
    };
  }
  const handler = context.handlers?.[kind];
  if (handler !== undefined) return fromBody(await handler(cmd));

  // Checked again here: the transport may hand over whatever arrived.
  const payload: Record<string, unknown> = isRecord(cmd.payload) ? cmd.payload : {};
  const deps: CommandDeps = {
    api: context.api,
    discovery: context.discovery,
    logger: context.logger,
    crdTimeoutMs: context.crdTimeoutMs ?? DEFAULT_CRD_TIMEOUT_MS,
  };
  switch (kind) {
    case 'ping':
      return { status: 'succeeded', data: { agentTime: new Date(context.now?.() ?? Date.now()).toISOString() } };
    case 'apply':
      return withPayload(checkApplyPayload(payload), (p) => applyManifests(p, deps));
    case 'diff':
      return withPayload(checkApplyPayload(payload), (p) => diffManifests(p, deps));
    case 'delete':
      return withPayload(checkDeletePayload(payload), (p) => deleteObjects(p, deps));
    case 'self-update':
      return withPayload(checkSelfUpdatePayload(payload), (p) => selfUpdate(context.api, context.namespace, p.image));
    case 'logs':
    case 'logs-stop':
      return { status: 'failed', error: failure('unsupported_kind', `${kind} is not available on this connection`) };
  }
}

async function withPayload<T>(checked: Checked<T>, execute: (payload: T) => Promise<Outcome>): Promise<Outcome> {
  if (checked.ok) return execute(checked.value);
  return { status: 'failed', error: failure('invalid_payload', `invalid payload: ${checked.message}`) };
}

function fromBody(body: CommandResultBody): Outcome {
  const outcome: Outcome = { status: body.status };
  if (body.result !== undefined) outcome.data = body.result;
  if (body.error !== undefined) outcome.error = body.error;
  return outcome;
}

const isCommandKind = (kind: string): kind is CommandKind => KINDS.has(kind);
