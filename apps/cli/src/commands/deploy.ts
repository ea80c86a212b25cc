import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEPLOYMENT_MANIFESTS_MAX_BYTES, type ApiClient, type Deployment, type ObjectResult } from '@niro/protocol';
import { Option, type Command } from 'commander';
import { authenticatedClient, type GlobalOptions } from '../api.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { findCluster } from './clusters.js';
import { parseDuration } from './commands.js';
import { findDeployment, findingCounts, objectsSummary, placeOf } from './deployments.js';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const DEFAULT_TIMEOUT = '10m';
const DEFAULT_POLL_INTERVAL = '2s';
/** The conventional exit code of a command stopped by Ctrl-C. */
const INTERRUPTED_EXIT_CODE = 130;
const MIB = 1024 * 1024;

type WaitOptions = { wait?: boolean; timeout: string; pollInterval: string };

type DeployOptions = GlobalOptions &
  WaitOptions & {
    cluster: string;
    namespace: string;
    name?: string;
    prune: boolean;
    message?: string;
  };

type RollbackOptions = GlobalOptions & WaitOptions & { to: string; cluster?: string; namespace?: string };

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/** The *.yaml and *.yml files below `dir`, recursively, skipping dot-directories, sorted by path. */
async function yamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.')) out.push(...(await yamlFiles(full)));
    } else if (entry.isFile() && /\.ya?ml$/i.test(entry.name)) {
      out.push(full);
    }
  }
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The manifests of a file or a directory, and the name a deployment of them gets by default. */
export async function readDeploySource(ctx: CliContext, target: string): Promise<{ yaml: string; name: string }> {
  const resolved = path.resolve(ctx.cwd, target);
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(resolved)).isDirectory();
  } catch (err) {
    const code = errnoCode(err);
    throw new UsageError(
      `${target}: ${code === 'ENOENT' ? 'no such file or directory' : err instanceof Error ? err.message : String(err)}`,
    );
  }
  const files = isDirectory ? await yamlFiles(resolved) : [resolved];
  if (files.length === 0) throw new UsageError(`${target}: no *.yaml or *.yml files in this directory`);
  const documents: string[] = [];
  let bytes = 0;
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    bytes += Buffer.byteLength(text, 'utf8');
    if (bytes > DEPLOYMENT_MANIFESTS_MAX_BYTES) {
      throw new UsageError(
        `${target}: over ${DEPLOYMENT_MANIFESTS_MAX_BYTES / MIB} MiB of manifests (a deployment's limit); split it into several deployments`,
      );
    }
    if (text.trim() !== '') documents.push(text.trimEnd());
  }
  if (documents.length === 0) throw new UsageError(`${target}: no manifests in it (the files are empty)`);
  const base = path.basename(resolved);
  const name = (isDirectory ? base : base.replace(/\.[^.]*$/, '')).toLowerCase();
  return { yaml: `${documents.join('\n---\n')}\n`, name };
}

function checkName(name: string, from: string): string {
  if (name.length > 63 || !DNS_LABEL.test(name)) {
    throw new UsageError(
      `deployment name "${name}"${from}: use a DNS label (lower-case letters, digits and -, at most 63 characters)`,
    );
  }
  return name;
}

function waitSettings(opts: WaitOptions): { timeoutMs: number; intervalMs: number } {
  const timeoutMs = parseDuration('--timeout', opts.timeout);
  if (timeoutMs <= 0) throw new UsageError(`--timeout ${opts.timeout}: use a duration above zero`);
  const intervalMs = parseDuration('--poll-interval', opts.pollInterval);
  if (intervalMs <= 0) throw new UsageError(`--poll-interval ${opts.pollInterval}: use a duration above zero`);
  return { timeoutMs, intervalMs };
}

/** The policy findings of a revision: the counts, then one line per high or medium finding. */
async function printFindings(ctx: CliContext, api: ApiClient, d: Deployment): Promise<void> {
  const rev = await api.deploymentRevision(d.id, d.revision);
  const counts = { info: 0, low: 0, medium: 0, high: 0 };
  for (const f of rev.findings) counts[f.severity]++;
  ctx.out.line(`Policy findings: ${findingCounts(counts)}`);
  const shown = [
    ...rev.findings.filter((f) => f.severity === 'high'),
    ...rev.findings.filter((f) => f.severity === 'medium'),
  ];
  const ruleWidth = Math.max(0, ...shown.map((f) => f.ruleId.length));
  for (const f of shown) {
    ctx.out.line(
      `  ${f.severity.padEnd(6)}  ${f.ruleId.padEnd(ruleWidth)}  ${f.object.kind}/${f.object.name}: ${f.message}`,
    );
  }
}

type WaitEnd = { deployment: Deployment; failure: string | null; interrupted: boolean };

/**
 * Follows `revision` of a deployment until its apply and rollout end, printing a line on standard
 * error whenever something changes. `failure` says why it did not succeed.
 */
async function waitForRevision(
  ctx: CliContext,
  api: ApiClient,
  first: Deployment,
  revision: number,
  settings: { timeoutMs: number; intervalMs: number; timeoutText: string },
): Promise<WaitEnd> {
  const stop = new AbortController();
  const off = ctx.onShutdownSignal(() => stop.abort());
  const deadline = Date.now() + settings.timeoutMs;
  // The last line printed about the apply, the rollout and each pod: a line repeats only on change.
  const shown = new Map<string, string>();
  const show = (topic: string, line: string): void => {
    if (shown.get(topic) === line) return;
    shown.set(topic, line);
    ctx.out.info(line);
  };
  let objects: ObjectResult[] | null = null;
  let d = first;
  let lastProblem: string | null = null;
  try {
    for (;;) {
      if (d.revision !== revision) {
        return {
          deployment: d,
          failure: `revision ${revision} was replaced by revision ${d.revision}`,
          interrupted: false,
        };
      }
      if (d.lifecycle !== 'active') {
        return { deployment: d, failure: `${d.name} is ${d.lifecycle}`, interrupted: false };
      }
      if (d.status === 'new' || d.status === 'pending') {
        show('apply', `revision ${revision}: applying…`);
      } else {
        objects ??= (await api.deploymentRevision(d.id, revision)).objects;
        if (d.status === 'failed') {
          show('apply', `revision ${revision}: failed${d.lastError === null ? '' : `: ${d.lastError}`}`);
          return {
            deployment: d,
            failure: `the apply of revision ${revision} failed${d.lastError === null ? '' : `: ${d.lastError}`}`,
            interrupted: false,
          };
        }
        if (d.status === 'partial') {
          show('apply', `revision ${revision}: partly applied (${objectsSummary(objects)})`);
          return {
            deployment: d,
            failure: `revision ${revision} applied partly${d.lastError === null ? '' : `: ${d.lastError}`}`,
            interrupted: false,
          };
        }
        show('apply', `revision ${revision}: applied (${objectsSummary(objects)})`);
        const r = d.rollout;
        if (r.state === 'progressing') {
          show('rollout', `rollout: ${r.readyReplicas}/${r.desiredReplicas} ready, ${r.updatedReplicas} updated`);
        }
        for (const pod of r.pods) {
          if (pod.ready || pod.reason === null) continue;
          lastProblem = `pod ${pod.name}: ${pod.reason}`;
          show(`pod ${pod.name}`, lastProblem);
        }
        if (r.state === 'none') {
          show('rollout', 'rollout: no workloads to wait for');
          return { deployment: d, failure: null, interrupted: false };
        }
        if (r.state === 'ready') {
          show('rollout', `rollout: ready (${r.readyReplicas}/${r.desiredReplicas})`);
          return { deployment: d, failure: null, interrupted: false };
        }
        if (r.state === 'stalled') {
          const stuck = r.pods.filter((p) => !p.ready).map((p) => `${p.name}: ${p.reason ?? p.phase}`);
          return {
            deployment: d,
            failure:
              `the rollout of revision ${revision} stalled: ${r.readyReplicas}/${r.desiredReplicas} ready after its progress deadline` +
              (stuck.length > 0 ? ` (${stuck.slice(0, 5).join(', ')})` : ''),
            interrupted: false,
          };
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const where =
          d.status === 'pending' || d.status === 'new'
            ? `revision ${revision} is still waiting for the agent to apply it (is the cluster online?)`
            : `the rollout of revision ${revision} is at ${d.rollout.readyReplicas}/${d.rollout.desiredReplicas} ready`;
        const last = d.lastError ?? lastProblem;
        return {
          deployment: d,
          failure: `timed out after ${settings.timeoutText}: ${where}${last === null ? '' : `; last error: ${last}`}`,
          interrupted: false,
        };
      }
      try {
        await sleep(Math.min(settings.intervalMs, left), undefined, { signal: stop.signal });
      } catch {
        return { deployment: d, failure: null, interrupted: true };
      }
      d = await api.getDeployment(d.id);
    }
  } finally {
    off();
  }
}

/** Waits when asked, prints the final deployment with `-o json`, and turns a failure into exit code 1. */
async function finish(
  ctx: CliContext,
  api: ApiClient,
  queued: Deployment,
  opts: GlobalOptions & WaitOptions,
): Promise<void> {
  if (opts.wait !== true) {
    if (opts.output === 'json') ctx.out.json(queued);
    return;
  }
  const { timeoutMs, intervalMs } = waitSettings(opts);
  const end = await waitForRevision(ctx, api, queued, queued.revision, {
    timeoutMs,
    intervalMs,
    timeoutText: opts.timeout,
  });
  if (opts.output === 'json') ctx.out.json(end.deployment);
  if (end.interrupted) {
    throw new CliError(
      `stopped waiting; revision ${queued.revision} goes on: follow it with \`niro deployments show ${queued.id}\``,
      INTERRUPTED_EXIT_CODE,
    );
  }
  if (end.failure !== null) throw new CliError(end.failure);
}

const waitOptions = (command: Command): Command =>
  command
    .option('--wait', 'wait until the apply is done and the workloads are ready')
    .option('--timeout <duration>', 'with --wait: give up after this long (the rollout goes on)', DEFAULT_TIMEOUT)
    .addOption(
      new Option('--poll-interval <duration>', 'with --wait: how often to ask the server')
        .default(DEFAULT_POLL_INTERVAL)
        .hideHelp(),
    );

export function registerDeployCommands(program: Command, ctx: CliContext): void {
  waitOptions(
    program
      .command('deploy')
      .description('Apply a YAML file or a directory of them as a managed deployment (a new revision)')
      .argument('<path>', 'a YAML file, or a directory: every *.yaml and *.yml below it, in path order')
      .requiredOption('--cluster <name|id>', 'the cluster to deploy to')
      .requiredOption('-n, --namespace <namespace>', 'the namespace the objects go to')
      .option('--name <name>', 'the deployment name (default: the file name without extension, or the directory name)')
      .option('--no-prune', 'keep objects of earlier revisions that the manifests no longer have')
      .option('-m, --message <text>', 'a note stored with the revision'),
  ).action(async (target: string, _opts: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<DeployOptions>();
    if (opts.wait === true) waitSettings(opts);
    if (opts.namespace.length > 63 || !DNS_LABEL.test(opts.namespace)) {
      throw new UsageError(`--namespace ${opts.namespace}: not a Kubernetes namespace name`);
    }
    if (opts.message !== undefined && opts.message.length > 500) {
      throw new UsageError('--message: at most 500 characters');
    }
    const source = await readDeploySource(ctx, target);
    const name =
      opts.name !== undefined
        ? checkName(opts.name, ' (--name)')
        : checkName(source.name, ` (from ${target}; pass --name to choose another)`);
    const api = await authenticatedClient(ctx, opts);
    const cluster = await findCluster(api, opts.cluster);
    const existing = (
      await api.listDeployments({ cluster: cluster.id, namespace: opts.namespace, q: name })
    ).items.find((d) => d.name === name);
    const yaml = { type: 'yaml' as const, yaml: source.yaml };
    const note = opts.message === undefined ? {} : { message: opts.message };
    let queued: Deployment;
    if (existing !== undefined) {
      queued = await api.updateDeployment(existing.id, { source: yaml, apply: true, prune: opts.prune, ...note });
    } else {
      // A first revision has nothing to prune, so --no-prune changes nothing here.
      queued = await api.createDeployment({
        name,
        clusterId: cluster.id,
        namespace: opts.namespace,
        source: yaml,
        apply: true,
        ...note,
      });
    }
    if (opts.output !== 'json') {
      ctx.out.line(
        `${existing === undefined ? 'Created' : 'Updated'} deployment ${queued.name} on ${placeOf(queued)}: revision ${queued.revision} queued`,
      );
      await printFindings(ctx, api, queued);
    }
    await finish(ctx, api, queued, opts);
  });

  waitOptions(
    program
      .command('rollback')
      .description('Apply an earlier revision of a deployment again, as a new revision (with prune)')
      .argument('<deployment>', 'deployment name or id')
      .requiredOption('--to <revision>', 'the revision to go back to')
      .option('--cluster <name|id>', 'the cluster, when the name is used in several')
      .option('-n, --namespace <namespace>', 'the namespace, when the name is used in several'),
  ).action(async (ref: string, _opts: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<RollbackOptions>();
    if (!/^\d+$/.test(opts.to) || Number(opts.to) < 1) {
      throw new UsageError(`--to ${opts.to}: use a revision number (see \`niro deployments revisions ${ref}\`)`);
    }
    if (opts.wait === true) waitSettings(opts);
    const api = await authenticatedClient(ctx, opts);
    const d = await findDeployment(api, ref, opts);
    const queued = await api.rollbackDeployment(d.id, Number(opts.to));
    if (opts.output !== 'json') {
      ctx.out.line(
        `Rolling back ${queued.name} on ${placeOf(queued)} to revision ${opts.to}: revision ${queued.revision} queued`,
      );
    }
    await finish(ctx, api, queued, opts);
  });
}
