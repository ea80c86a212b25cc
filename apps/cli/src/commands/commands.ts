import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  COMMAND_KINDS,
  COMMAND_LIMITS,
  COMMAND_STATES,
  FINAL_COMMAND_STATES,
  type ApiClient,
  type Command,
  type CommandKind,
  type CommandState,
  type ObjectResult,
} from '@niro/protocol';
import { Argument, Option, type Command as CliCommand } from 'commander';
import { authenticatedClient, type GlobalOptions } from '../api.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { ago, count, ms } from '../format.js';
import { findCluster } from './clusters.js';

/** The kinds a person runs by hand; `logs`/`logs-stop` belong to `niro logs`. */
export const RUNNABLE_KINDS = ['ping', 'apply', 'diff', 'delete', 'self-update'] as const;
type RunnableKind = (typeof RUNNABLE_KINDS)[number];
const MANIFEST_KINDS: readonly CommandKind[] = ['apply', 'diff', 'delete'];

const DEFAULT_TIMEOUT = '2m';
/** Polling starts fast (a connected agent answers a ping in milliseconds) and slows to this. */
const POLL_MIN_MS = 50;
const POLL_MAX_MS = 500;
/** The conventional exit code of a command stopped by Ctrl-C. */
const INTERRUPTED_EXIT_CODE = 130;

type RunOptions = GlobalOptions & {
  payload?: string;
  file?: string;
  namespace?: string;
  deploymentId?: string;
  prune?: boolean;
  idempotencyKey?: string;
  expiresIn?: string;
  wait: boolean;
  timeout: string;
};

/** `90s`, `10m`, `1h`, `250ms` or a bare number of seconds, in milliseconds. */
export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (m === null) throw new UsageError(`${flag} ${value}: use a duration such as 30s, 10m or 1h`);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(Number(m[1]) * factor);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `--payload` as a JSON object. */
export function parsePayloadFlag(raw: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new UsageError(`--payload: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isRecord(parsed)) throw new UsageError(`--payload: must be a JSON object, e.g. '{"namespace":"shop"}'`);
  return parsed;
}

async function readManifests(ctx: CliContext, file: string): Promise<string> {
  let text: string;
  if (file === '-') {
    text = await ctx.out.readStdin();
  } else {
    try {
      text = await readFile(path.resolve(ctx.cwd, file), 'utf8');
    } catch (err) {
      const code = isRecord(err) && typeof err.code === 'string' ? err.code : undefined;
      throw new UsageError(
        `--file ${file}: ${code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  if (Buffer.byteLength(text, 'utf8') > COMMAND_LIMITS.manifestBytes) {
    throw new UsageError(`--file ${file}: over ${COMMAND_LIMITS.manifestBytes / 1024 / 1024} MiB of manifests`);
  }
  if (text.trim() === '') throw new UsageError(`--file ${file}: no manifests in it`);
  return text;
}

/** The payload of `run` from --payload, --file, --namespace and --prune. */
async function buildPayload(ctx: CliContext, kind: RunnableKind, opts: RunOptions): Promise<Record<string, unknown>> {
  const payload = opts.payload === undefined ? {} : parsePayloadFlag(opts.payload);
  const manifestKind = MANIFEST_KINDS.includes(kind);
  if (opts.file !== undefined) {
    if (!manifestKind) throw new UsageError(`--file gives the manifests of apply, diff or delete, not ${kind}`);
    if (payload.manifests !== undefined) throw new UsageError('give the manifests once: --file or --payload');
    payload.manifests = await readManifests(ctx, opts.file);
  }
  if (opts.namespace !== undefined) {
    if (!manifestKind) throw new UsageError(`--namespace is for apply, diff or delete, not ${kind}`);
    payload.namespace = opts.namespace;
  }
  if (opts.deploymentId !== undefined) {
    if (!manifestKind) throw new UsageError(`--deployment-id is for apply, diff or delete, not ${kind}`);
    payload.deploymentId = opts.deploymentId;
  }
  if (opts.prune === true) {
    if (kind !== 'apply') throw new UsageError(`--prune is for apply, not ${kind}`);
    // The agent prunes only the objects labelled with the deployment.
    if (payload.deploymentId === undefined) throw new UsageError('--prune needs --deployment-id');
    payload.prune = true;
  }
  if ((kind === 'apply' || kind === 'diff') && payload.manifests === undefined) {
    throw new UsageError(`${kind} needs manifests: pass --file manifest.yaml (or --file - for standard input)`);
  }
  if (kind === 'delete' && payload.manifests === undefined && payload.deploymentId === undefined) {
    throw new UsageError('delete needs --file manifest.yaml (the objects to delete) or --deployment-id');
  }
  return payload;
}

function expirySeconds(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const seconds = Math.ceil(parseDuration('--expires-in', raw) / 1000);
  const { minExpirySeconds: min, maxExpirySeconds: max } = COMMAND_LIMITS;
  if (seconds < min || seconds > max) {
    throw new UsageError(`--expires-in ${raw}: use ${min}s to ${max / 3600}h`);
  }
  return seconds;
}

const isFinal = (state: CommandState): boolean => FINAL_COMMAND_STATES.includes(state);

/** The states a command went through, as far as its timestamps tell: "queued → delivered → succeeded". */
function journey(c: Command): string {
  const steps: string[] = ['queued'];
  if (c.deliveredAt !== null || c.state === 'delivered') steps.push('delivered');
  if (isFinal(c.state)) steps.push(c.roundTripMs === null ? c.state : `${c.state} in ${ms(c.roundTripMs)}`);
  return steps.join(' → ');
}

type WaitOutcome = { command: Command; ended: 'final' | 'timeout' | 'interrupted' };

async function waitUntilFinal(
  ctx: CliContext,
  api: ApiClient,
  first: Command,
  timeoutMs: number,
  label: string,
): Promise<WaitOutcome> {
  const stop = new AbortController();
  const off = ctx.onShutdownSignal(() => stop.abort());
  const deadline = Date.now() + timeoutMs;
  let command = first;
  let shown = '';
  const progress = (): void => {
    const text = `${label}: ${journey(command)}`;
    if (ctx.out.terminal && text !== shown) ctx.out.status(text);
    shown = text;
  };
  try {
    progress();
    for (let delay = POLL_MIN_MS; !isFinal(command.state); delay = Math.min(delay * 2, POLL_MAX_MS)) {
      const left = deadline - Date.now();
      if (left <= 0) return { command, ended: 'timeout' };
      try {
        await sleep(Math.min(delay, left), undefined, { signal: stop.signal });
      } catch {
        return { command, ended: 'interrupted' };
      }
      command = await api.getCommand(command.id);
      progress();
    }
    return { command, ended: 'final' };
  } finally {
    off();
    ctx.out.clearStatus();
  }
}

const OBJECT_ACTIONS: readonly ObjectResult['action'][] = [
  'created',
  'configured',
  'unchanged',
  'pruned',
  'deleted',
  'drifted',
  'missing',
  'failed',
];

/** The per-object results of apply/diff/delete, checked field by field (they come from the agent). */
export function objectResults(result: Command['result']): ObjectResult[] | null {
  if (result === null || !Array.isArray(result.objects)) return null;
  const out: ObjectResult[] = [];
  for (const o of result.objects) {
    if (!isRecord(o) || typeof o.kind !== 'string' || typeof o.name !== 'string' || typeof o.action !== 'string') {
      return null;
    }
    const action = OBJECT_ACTIONS.find((a) => a === o.action);
    if (action === undefined) return null;
    out.push({
      kind: o.kind,
      name: o.name,
      action,
      ...(typeof o.namespace === 'string' ? { namespace: o.namespace } : {}),
      ...(typeof o.message === 'string' ? { message: o.message } : {}),
      ...(Array.isArray(o.fields) ? { fields: o.fields.filter((f): f is string => typeof f === 'string') } : {}),
    });
  }
  return out;
}

function printObjects(ctx: CliContext, objects: readonly ObjectResult[]): void {
  ctx.out.table(
    ['KIND', 'NAMESPACE', 'NAME', 'ACTION', 'MESSAGE/FIELDS'],
    objects.map((o) => [
      o.kind,
      o.namespace ?? '-',
      o.name,
      o.action,
      [o.message, o.fields !== undefined && o.fields.length > 0 ? o.fields.join(', ') : undefined]
        .filter((s) => s !== undefined && s !== '')
        .join(': '),
    ]),
  );
}

/** "3 objects: 1 created, 2 unchanged". */
function objectSummary(objects: readonly ObjectResult[]): string {
  const byAction = new Map<string, number>();
  for (const o of objects) byAction.set(o.action, (byAction.get(o.action) ?? 0) + 1);
  const parts = [...byAction].map(([action, n]) => `${n} ${action}`);
  return `${count(objects.length, 'object')}${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}

/** Prints a finished command's result on stdout and turns an unsuccessful end into an error. */
function reportOutcome(ctx: CliContext, c: Command, clusterName: string, output: GlobalOptions['output']): void {
  const objects = objectResults(c.result);
  if (output === 'json') {
    ctx.out.json(c);
  } else if (objects !== null) {
    if (objects.length > 0) printObjects(ctx, objects);
    if (c.state === 'succeeded' || c.state === 'partial') {
      ctx.out.info(`${c.kind} on ${clusterName}: ${objectSummary(objects)} (${ms(c.roundTripMs)})`);
    }
  } else if (c.state === 'succeeded') {
    if (c.kind === 'ping') ctx.out.line(`${clusterName} answered in ${ms(c.roundTripMs)}`);
    else {
      ctx.out.line(`${c.kind} on ${clusterName} succeeded in ${ms(c.roundTripMs)}`);
      if (c.result !== null && Object.keys(c.result).length > 0) ctx.out.json(c.result);
    }
  }
  failureOf(c);
}

function failureOf(c: Command): void {
  const reason = c.error === null ? null : `${c.error.message} (${c.error.code})`;
  switch (c.state) {
    case 'succeeded':
    case 'queued':
    case 'delivered':
      return;
    case 'failed':
      throw new CliError(reason ?? `${c.kind} failed without a message from the agent`);
    case 'partial':
      throw new CliError(`${c.kind} partly failed${reason === null ? ' (see the objects above)' : `: ${reason}`}`);
    case 'expired':
      throw new CliError(
        `command ${c.id} expired ${c.deliveredAt === null ? 'before the agent asked for it' : 'before the agent answered'}`,
      );
    case 'cancelled':
      throw new CliError(`command ${c.id} was cancelled`);
  }
}

function showCommand(ctx: CliContext, c: Command): void {
  ctx.out.fields([
    ['ID', c.id],
    ['Cluster', c.clusterId],
    ['Kind', c.kind],
    ['State', c.state],
    ['Created', `${c.createdAt} (${ago(c.createdAt)})`],
    ['Delivered', c.deliveredAt === null ? '-' : `${c.deliveredAt} (${count(c.deliveries, 'delivery')})`],
    ['Completed', c.completedAt ?? '-'],
    ['Round trip', ms(c.roundTripMs)],
    ['Expires', c.expiresAt],
    ...(c.error === null ? [] : [['Error', `${c.error.message} (${c.error.code})`] as const]),
  ]);
  const objects = objectResults(c.result);
  if (objects !== null && objects.length > 0) {
    ctx.out.line();
    printObjects(ctx, objects);
  } else if (objects === null && c.result !== null && Object.keys(c.result).length > 0) {
    ctx.out.fields([['Result', JSON.stringify(c.result)]]);
  }
}

export function registerCommandsCommands(program: CliCommand, ctx: CliContext): void {
  const commands = program
    .command('commands')
    .alias('command')
    .description("Run commands on a cluster's agent (ping, apply, diff, delete) and follow them");

  commands
    .command('run')
    .description('Queue a command for the cluster and, by default, wait for its result')
    .argument('<cluster>', 'cluster name or id')
    .addArgument(new Argument('<kind>', 'what to run').choices([...RUNNABLE_KINDS]))
    .option('--payload <json>', 'the payload as a JSON object (see docs/api.md)')
    .option('-f, --file <path>', 'apply/diff/delete: the manifests (multi-document YAML; - reads standard input)')
    .option('-n, --namespace <namespace>', 'apply/diff/delete: namespace for objects that name none')
    .option('--deployment-id <id>', 'apply/diff: the deployment the objects belong to; delete: all of its objects')
    .option('--prune', 'apply: also delete the objects of --deployment-id that left the manifests')
    .option('--idempotency-key <key>', 'repeating the run with this key returns the first command')
    .option(
      '--expires-in <duration>',
      `give up delivering after this long (default ${COMMAND_LIMITS.defaultExpirySeconds / 60}m)`,
    )
    .option('--no-wait', 'print the command id and return at once')
    .option('--timeout <duration>', 'stop waiting after this long (the command goes on)', DEFAULT_TIMEOUT)
    .action(async (clusterRef: string, kindArg: string, _opts: unknown, cmd: CliCommand) => {
      const opts = cmd.optsWithGlobals<RunOptions>();
      const kind = RUNNABLE_KINDS.find((k) => k === kindArg);
      if (kind === undefined) throw new UsageError(`unknown kind ${kindArg}: use one of ${RUNNABLE_KINDS.join(', ')}`);
      const expiresInSeconds = expirySeconds(opts.expiresIn);
      const timeoutMs = parseDuration('--timeout', opts.timeout);
      if (timeoutMs <= 0) throw new UsageError(`--timeout ${opts.timeout}: use a duration above zero`);
      const payload = await buildPayload(ctx, kind, opts);
      const api = await authenticatedClient(ctx, opts);
      const cluster = await findCluster(api, clusterRef);
      const created = await api.createCommand(cluster.id, {
        kind,
        payload,
        ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }),
        ...(opts.idempotencyKey === undefined ? {} : { idempotencyKey: opts.idempotencyKey }),
      });
      if (!opts.wait) {
        if (opts.output === 'json') ctx.out.json(created);
        else ctx.out.line(created.id);
        return;
      }
      const { command, ended } = await waitUntilFinal(ctx, api, created, timeoutMs, `${kind} ${cluster.name}`);
      if (ended === 'final') return reportOutcome(ctx, command, cluster.name, opts.output);
      if (opts.output === 'json') ctx.out.json(command);
      const follow = `follow it with \`niro commands get ${command.id}\`, stop it with \`niro commands cancel ${command.id}\``;
      if (ended === 'interrupted') {
        throw new CliError(
          `stopped waiting; command ${command.id} is ${command.state}: ${follow}`,
          INTERRUPTED_EXIT_CODE,
        );
      }
      throw new CliError(
        `command ${command.id} is still ${command.state} after ${opts.timeout}` +
          `${command.state === 'queued' ? " (is the cluster's agent connected?)" : ''}: ${follow}`,
      );
    });

  commands
    .command('get')
    .description('Show one command with its state and result')
    .argument('<id>', 'command id')
    .action(async (id: string, _opts: unknown, cmd: CliCommand) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const api = await authenticatedClient(ctx, opts);
      const c = await api.getCommand(id);
      if (opts.output === 'json') return ctx.out.json(c);
      showCommand(ctx, c);
    });

  commands
    .command('ls')
    .alias('list')
    .description("List a cluster's commands, newest first")
    .argument('<cluster>', 'cluster name or id')
    .addOption(new Option('--state <state>', 'only commands in this state').choices([...COMMAND_STATES]))
    .addOption(new Option('--kind <kind>', 'only commands of this kind').choices([...COMMAND_KINDS]))
    .option('--limit <n>', 'at most this many (1 to 100)', '20')
    .action(async (clusterRef: string, _opts: unknown, cmd: CliCommand) => {
      const opts = cmd.optsWithGlobals<GlobalOptions & { state?: CommandState; kind?: CommandKind; limit: string }>();
      const limit = Number(opts.limit);
      if (!/^\d+$/.test(opts.limit) || limit < 1 || limit > 100) {
        throw new UsageError(`--limit ${opts.limit}: use a whole number from 1 to 100`);
      }
      const api = await authenticatedClient(ctx, opts);
      const cluster = await findCluster(api, clusterRef);
      const { items } = await api.listCommands(cluster.id, { state: opts.state, kind: opts.kind, limit });
      if (opts.output === 'json') return ctx.out.json(items);
      if (items.length === 0) {
        ctx.out.info(`No commands${opts.state === undefined ? '' : ` ${opts.state}`} on ${cluster.name}.`);
        return;
      }
      const now = Date.now();
      ctx.out.table(
        ['ID', 'KIND', 'STATE', 'CREATED', 'DURATION'],
        items.map((c) => [c.id, c.kind, c.state, ago(c.createdAt, now), ms(c.roundTripMs)]),
      );
    });

  commands
    .command('cancel')
    .description('Cancel a queued or delivered command (an agent already running it is not interrupted)')
    .argument('<id>', 'command id')
    .action(async (id: string, _opts: unknown, cmd: CliCommand) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const api = await authenticatedClient(ctx, opts);
      const c = await api.cancelCommand(id);
      if (opts.output === 'json') return ctx.out.json(c);
      ctx.out.info(`Cancelled command ${c.id} (${c.kind}).`);
    });
}
