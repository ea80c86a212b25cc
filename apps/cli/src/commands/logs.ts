import { LOG_LIMITS } from '@niro/protocol';
import type { Command } from 'commander';
import { authenticatedClient, type GlobalOptions } from '../api.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { findCluster } from './clusters.js';

type LogsOptions = GlobalOptions & { follow?: boolean; tail?: string; container?: string };

/** `namespace/pod` into its parts. */
export function parsePodRef(ref: string): { namespace: string; pod: string } {
  const slash = ref.indexOf('/');
  const namespace = ref.slice(0, slash);
  const pod = ref.slice(slash + 1);
  if (slash <= 0 || pod === '' || pod.includes('/')) {
    throw new UsageError(`"${ref}": name the pod as NAMESPACE/POD, e.g. shop/web-7d9c5-x2x8q`);
  }
  return { namespace, pod };
}

export function registerLogsCommand(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .description("Print a pod's log (through the cluster's agent)")
    .argument('<cluster>', 'cluster name or id')
    .argument('<namespace/pod>', 'the pod, e.g. shop/web-7d9c5-x2x8q')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--tail <lines>', `lines from the end of the log to start with (default ${LOG_LIMITS.defaultTailLines})`)
    .option('-c, --container <name>', 'the container, when the pod has several')
    .action(async (clusterRef: string, podRef: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<LogsOptions>();
      const { namespace, pod } = parsePodRef(podRef);
      let tailLines: number | undefined;
      if (opts.tail !== undefined) {
        tailLines = Number(opts.tail);
        if (!/^\d+$/.test(opts.tail) || tailLines > LOG_LIMITS.maxTailLines) {
          throw new UsageError(`--tail ${opts.tail}: use a whole number from 0 to ${LOG_LIMITS.maxTailLines}`);
        }
      }
      const api = await authenticatedClient(ctx, opts);
      const cluster = await findCluster(api, clusterRef);
      // Ctrl-C closes the stream, which stops it in the agent.
      const stop = new AbortController();
      const off = ctx.onShutdownSignal(() => stop.abort());
      try {
        const events = api.streamLogs(cluster.id, namespace, pod, {
          follow: opts.follow === true,
          ...(tailLines === undefined ? {} : { tailLines }),
          ...(opts.container === undefined ? {} : { container: opts.container }),
          signal: stop.signal,
        });
        for await (const event of events) {
          if (event.type === 'lines') {
            if (opts.output === 'json') for (const line of event.lines) ctx.out.line(JSON.stringify(line));
            else for (const line of event.lines) ctx.out.line(line);
          } else if (event.type === 'error') {
            throw new CliError(`${event.message} (${event.code})`);
          } else if (event.type === 'end' && event.reason === 'error') {
            throw new CliError(`the log stream ended with an error: ${event.message ?? 'no details'}`);
          }
        }
      } catch (err) {
        if (stop.signal.aborted) return;
        throw err;
      } finally {
        off();
      }
    });
}
