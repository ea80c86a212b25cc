import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ConfigInput, RunningServer } from '@niro/server';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { count } from '../format.js';
import { launchServer, runUntilSignal } from './server.js';
import { attachProgress, intArg, rateArg } from './simulate.js';

export const DEMO_ADMIN_EMAIL = 'admin@niro.local';

type DemoOptions = {
  port: string;
  host: string;
  dataDir?: string;
  clusters: number;
  nodes: number;
  pods: number;
  crashloopRate: number;
  logLevel: string;
};

export function registerDemoCommand(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('Start a throw-away server with a simulated fleet, to look around')
    .option('--port <port>', 'TCP port', '8080')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--data-dir <dir>', 'keep the data here (default: a temporary directory, deleted on exit)')
    .option('--clusters <n>', 'simulated clusters', intArg(0, 10_000), 25)
    .option('--nodes <n>', 'nodes per cluster', intArg(1, 1_000), 3)
    .option('--pods <n>', 'pods per cluster', intArg(0, 10_000), 40)
    .option('--crashloop-rate <share>', 'share of pods in CrashLoopBackOff', rateArg, 0.03)
    .option('--log-level <level>', 'server log level (JSON on stdout)', 'warn')
    .action(async (opts: DemoOptions) => {
      const temporary = opts.dataDir === undefined;
      const dataDir = opts.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'niro-demo-')));
      const password = randomBytes(12).toString('base64url');
      // The demo ignores NIRO_* variables on purpose: it must never fill a real database with fake clusters.
      const config: ConfigInput = {
        NIRO_PORT: opts.port,
        NIRO_HOST: opts.host,
        NIRO_DATA_DIR: dataDir,
        NIRO_ADMIN_EMAIL: DEMO_ADMIN_EMAIL,
        NIRO_ADMIN_PASSWORD: password,
        NIRO_LOG_LEVEL: opts.logLevel,
      };
      const cleanup = async (): Promise<void> => {
        if (temporary) await rm(dataDir, { recursive: true, force: true });
      };
      let server: RunningServer;
      try {
        server = await launchServer({ config, cwd: ctx.cwd });
      } catch (err) {
        await cleanup();
        throw err;
      }
      const created = await adminToken(server, password);
      const url = server.url.replace('://0.0.0.0:', '://127.0.0.1:');
      ctx.out.info(`Niro demo is running at ${url}`);
      if (created === null) {
        ctx.out.info(`  ${dataDir} already has users: log in with your earlier demo account.`);
      } else {
        ctx.out.info(`  log in as:  ${DEMO_ADMIN_EMAIL}`);
        ctx.out.info(`  password:   ${password}   (shown once)`);
      }
      ctx.out.info(`  CLI:        niro login --url ${url} --email ${DEMO_ADMIN_EMAIL}`);
      ctx.out.info(`  data:       ${dataDir}${temporary ? ' (deleted on exit)' : ''}`);
      ctx.out.info(
        `  fleet:      ${count(opts.clusters, 'simulated cluster')}, ${count(opts.nodes, 'node')} and ${count(opts.pods, 'pod')} each`,
      );
      ctx.out.info('Stop with Ctrl-C.');

      const { runSimulation } = await import('@niro/testkit');
      const sim =
        created === null || opts.clusters === 0
          ? null
          : runSimulation({
              url,
              token: created,
              clusters: opts.clusters,
              nodes: opts.nodes,
              pods: opts.pods,
              crashloopRate: opts.crashloopRate,
              namePrefix: '',
              seed: 'niro-demo',
            });
      const detach = sim === null ? () => undefined : attachProgress(ctx, sim, 300);
      sim?.ready.catch((err: unknown) => ctx.out.error(`the simulated fleet failed: ${String(err)}`));
      await runUntilSignal(ctx, server, async () => {
        detach();
        await sim?.stop();
      });
      await cleanup();
    });
}

/** An API token for the simulator, issued in-process for the demo administrator; null if another admin exists. */
async function adminToken(server: RunningServer, password: string): Promise<string | null> {
  try {
    const { token } = await server.services.auth.exchangeToken(
      { email: DEMO_ADMIN_EMAIL, password, name: 'niro demo simulator' },
      { ip: '127.0.0.1', userAgent: 'niro demo', addresses: ['127.0.0.1'] },
    );
    return token;
  } catch {
    return null;
  }
}
