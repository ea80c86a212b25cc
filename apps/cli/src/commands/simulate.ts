import { ENVIRONMENTS, NiroApiError, type Environment } from '@niro/protocol';
import type { Simulation, SimulationOptions, SimulationProgress } from '@niro/testkit';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { resolveTarget, type GlobalOptions } from '../api.js';
import { waitForShutdown, type CliContext } from '../context.js';
import { UnreachableError, UsageError, isConnectionError } from '../errors.js';
import { bytes, count, ms } from '../format.js';

export const intArg =
  (min: number, max: number) =>
  (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return n;
  };

export const rateArg = (raw: string): number => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a share from 0 to 1, e.g. 0.05');
  return n;
};

/** `production=6,staging=2,dev=2` → weights per environment. */
export const envMixArg = (raw: string): Partial<Record<Environment, number>> => {
  const out: Partial<Record<Environment, number>> = {};
  for (const part of raw.split(',')) {
    const [env, weight] = part.split('=');
    const w = Number(weight);
    const known = ENVIRONMENTS.find((e) => e === env?.trim());
    if (known === undefined || !Number.isFinite(w) || w < 0) {
      throw new InvalidArgumentError(`use env=weight pairs of ${ENVIRONMENTS.join(', ')}, e.g. production=6,dev=4`);
    }
    out[known] = w;
  }
  return out;
};

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function rampLine(p: SimulationProgress): string {
  const parts = [
    p.total === p.created || p.created === 0 ? null : `${p.created}/${p.total} created`,
    `${p.enrolled}/${p.total} enrolled`,
    `${p.heartbeating} heartbeating`,
    `${p.errors} errors`,
  ].filter((x) => x !== null);
  const last = p.lastError !== null ? ` · last error: ${p.lastError}` : '';
  return `ramping up: ${parts.join(' · ')}${last}`;
}

export function summaryLine(p: SimulationProgress): string {
  const time = new Date().toISOString().slice(11, 19);
  return (
    `[${time}] ${p.heartbeating}/${p.total} clusters heartbeating · ${p.heartbeatsSent} heartbeats` +
    ` (${p.heartbeatFailures} failed) · latency p50 ${ms(p.latencyP50Ms)}, p99 ${ms(p.latencyP99Ms)}` +
    ` · ${bytes(p.bytesSent)} sent`
  );
}

/** Shows the ramp-up on one line, then a summary every `summarySeconds`, until stopped. */
export function attachProgress(ctx: CliContext, sim: Simulation, summarySeconds: number): () => void {
  let ramping = true;
  // A terminal gets a live line; a log file gets a line every few seconds, and only on change.
  const every = ctx.out.terminal ? 1 : 8;
  let ticks = 0;
  let shown = '';
  const tick = setInterval(() => {
    const line = rampLine(sim.progress());
    if (!ramping || ticks++ % every !== 0 || line === shown) return;
    shown = line;
    ctx.out.status(line);
  }, 250);
  const summary = setInterval(() => ctx.out.info(summaryLine(sim.progress())), summarySeconds * 1000);
  sim.ready
    .then(() => {
      ramping = false;
      const p = sim.progress();
      if (ctx.out.terminal) ctx.out.status(rampLine(p));
      ctx.out.clearStatus();
      ctx.out.info(
        `${p.enrolled === 1 ? 'The cluster is' : `All ${p.enrolled} clusters are`} enrolled (${(p.elapsedMs / 1000).toFixed(1)} s); heartbeating until Ctrl-C.`,
      );
    })
    .catch(() => {
      ramping = false;
      ctx.out.clearStatus();
    });
  return () => {
    clearInterval(tick);
    clearInterval(summary);
    ctx.out.clearStatus();
  };
}

type SimulateOptions = GlobalOptions & {
  email?: string;
  password?: string;
  enrollmentToken: string[];
  clusters: number;
  nodes: number;
  pods: number;
  crashloopRate: number;
  interval?: number;
  prefix: string;
  envMix?: Partial<Record<Environment, number>>;
  seed?: string;
  usage: 'all' | 'nodes' | 'none';
  concurrency: number;
  summaryEvery: number;
};

export function registerSimulateCommand(program: Command, ctx: CliContext): void {
  program
    .command('simulate')
    .description('Run a fleet of simulated clusters whose agents speak the real protocol (demos, load tests)')
    .option('--email <email>', 'log in with this account instead of an API token')
    .option('--password <password>', 'password for --email (or NIRO_PASSWORD)')
    .option(
      '--enrollment-token <token>',
      'enroll with this token instead of creating clusters (repeatable)',
      collect,
      [],
    )
    .option('--clusters <n>', 'clusters to create', intArg(0, 100_000), 10)
    .option('--nodes <n>', 'nodes per cluster', intArg(1, 5_000), 3)
    .option('--pods <n>', 'pods per cluster, k3s system pods included', intArg(0, 100_000), 40)
    .option('--crashloop-rate <share>', 'share of pods in CrashLoopBackOff', rateArg, 0.02)
    .option('--interval <seconds>', "heartbeat interval (default: the server's)", intArg(1, 3600))
    .option('--prefix <prefix>', 'cluster name prefix', 'sim')
    .option('--env-mix <mix>', 'environment weights, e.g. production=6,staging=2,dev=2', envMixArg)
    .addOption(
      new Option('--usage <what>', 'usage figures to report (like metrics-server)')
        .choices(['all', 'nodes', 'none'])
        .default('all'),
    )
    .option('--seed <seed>', 'seed for names and inventories (same seed, same fleet)')
    .option('--concurrency <n>', 'parallel requests while ramping up', intArg(1, 1024), 16)
    .option('--summary-every <seconds>', 'seconds between summary lines', intArg(1, 86_400), 30)
    .addHelpText(
      'after',
      '\nExample:\n  niro simulate --url http://127.0.0.1:8080 --token niro_pat_… --clusters 100 --nodes 5 --pods 80',
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<SimulateOptions>();
      const { url, token } = await resolveTarget(ctx, opts);
      const password = opts.password ?? ctx.env.NIRO_PASSWORD;
      const tokens = opts.enrollmentToken;
      const auth: Pick<SimulationOptions, 'token' | 'email' | 'password' | 'enrollmentTokens'> =
        tokens.length > 0
          ? { enrollmentTokens: tokens }
          : opts.email !== undefined
            ? { email: opts.email, password }
            : { token };
      if (auth.enrollmentTokens === undefined && auth.token === undefined && auth.email === undefined) {
        throw new UsageError('give --token (or `niro login` first), --email and --password, or --enrollment-token');
      }
      if (auth.email !== undefined && auth.password === undefined) {
        throw new UsageError('--email needs --password (or NIRO_PASSWORD)');
      }

      const { runSimulation } = await import('@niro/testkit');
      const sim = runSimulation({
        url,
        ...auth,
        clusters: opts.clusters,
        nodes: opts.nodes,
        pods: opts.pods,
        crashloopRate: opts.crashloopRate,
        intervalSeconds: opts.interval,
        namePrefix: opts.prefix,
        environmentMix: opts.envMix,
        seed: opts.seed,
        usage: opts.usage,
        concurrency: opts.concurrency,
      });
      const total = tokens.length > 0 ? tokens.length : opts.clusters;
      ctx.out.info(
        `Simulating ${count(total, 'cluster')} (${count(opts.nodes, 'node')}, ${count(opts.pods, 'pod')} each) against ${url}. Ctrl-C stops.`,
      );
      const detach = attachProgress(ctx, sim, opts.summaryEvery);
      const stopped = waitForShutdown(ctx);
      try {
        const outcome = await Promise.race([sim.ready.then(() => stopped), stopped]);
        ctx.out.clearStatus();
        ctx.out.info(`Received ${outcome}, stopping the simulated agents…`);
      } catch (err) {
        detach();
        await sim.stop();
        if (!(err instanceof NiroApiError) && isConnectionError(err)) throw new UnreachableError(url, err);
        throw err;
      }
      detach();
      await sim.stop();
      const p = sim.progress();
      if (opts.output === 'json') ctx.out.json(p);
      else ctx.out.info(summaryLine(p));
    });
}
