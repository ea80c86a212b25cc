import type { ConfigInput, RunningServer, StartOptions } from '@niro/server';
import type { Command } from 'commander';
import { waitForShutdown, type CliContext } from '../context.js';
import { CliError } from '../errors.js';

/** Each `niro server` flag and the variable it overrides (DESIGN section 7). */
const FLAGS = [
  ['--port <port>', 'NIRO_PORT', 'port', 'TCP port (default 8080; 0 picks a free one)'],
  ['--host <host>', 'NIRO_HOST', 'host', 'address to listen on (default 127.0.0.1)'],
  ['--data-dir <dir>', 'NIRO_DATA_DIR', 'dataDir', 'where the SQLite database and keys live (default ./.niro)'],
  [
    '--database-url <url>',
    'NIRO_DATABASE_URL',
    'databaseUrl',
    'postgres://… for PostgreSQL (default: SQLite in the data dir)',
  ],
  ['--public-url <url>', 'NIRO_PUBLIC_URL', 'publicUrl', 'the URL agents and browsers use to reach this server'],
  [
    '--secret-key <base64>',
    'NIRO_SECRET_KEY',
    'secretKey',
    'key for stored secrets, ≥ 32 bytes base64 (prefer the variable)',
  ],
  ['--admin-email <email>', 'NIRO_ADMIN_EMAIL', 'adminEmail', 'create this first administrator on an empty database'],
  [
    '--admin-password <password>',
    'NIRO_ADMIN_PASSWORD',
    'adminPassword',
    "the first administrator's password (prefer the variable)",
  ],
  [
    '--offline-after <duration>',
    'NIRO_OFFLINE_AFTER',
    'offlineAfter',
    'silence after which a cluster is offline (default 5m)',
  ],
  [
    '--heartbeat-interval <duration>',
    'NIRO_HEARTBEAT_INTERVAL',
    'heartbeatInterval',
    'interval asked of agents (default 15s)',
  ],
  [
    '--drift-interval <duration>',
    'NIRO_DRIFT_INTERVAL',
    'driftInterval',
    'how often deployments are compared with their cluster (default 5m; off to stop)',
  ],
  [
    '--agent-image <image>',
    'NIRO_AGENT_IMAGE',
    'agentImage',
    'the agent image the install manifest deploys (default: the matching release)',
  ],
  [
    '--log-level <level>',
    'NIRO_LOG_LEVEL',
    'logLevel',
    'fatal, error, warn, info, debug, trace or silent (default info)',
  ],
] as const;

type ServerFlags = Partial<Record<(typeof FLAGS)[number][2], string>> & { trustProxy?: boolean };

/**
 * Loads the server only for the commands that run it, so `niro clusters ls` starts fast and
 * works even where the database drivers cannot load. Invalid configuration exits with code 2.
 */
export async function launchServer(options: StartOptions): Promise<RunningServer> {
  const { startServer, ConfigError } = await import('@niro/server');
  try {
    return await startServer(options);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2, { cause: err });
    if (typeof err === 'object' && err !== null && 'code' in err && err.code === 'EADDRINUSE') {
      const where = `${options.config.NIRO_HOST ?? '127.0.0.1'}:${options.config.NIRO_PORT ?? '8080'}`;
      throw new CliError(`${where} is already in use: choose another port with --port (or NIRO_PORT)`, 1, {
        cause: err,
      });
    }
    throw err;
  }
}

/** The environment's NIRO_* values with the given flags on top. */
export async function configInputFrom(env: CliContext['env'], flags: ServerFlags): Promise<ConfigInput> {
  const { configInputFromEnv } = await import('@niro/server');
  const input: ConfigInput = configInputFromEnv({ ...env });
  for (const [, variable, key] of FLAGS) {
    const value = flags[key];
    if (value !== undefined) input[variable] = value;
  }
  if (flags.trustProxy !== undefined) input.NIRO_TRUST_PROXY = String(flags.trustProxy);
  return input;
}

const maskUrl = (url: string): string => url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');

/** The one block a person reads when the server starts: where it is, where data is, how to log in. */
export function startupBanner(server: RunningServer, options: { showPublicUrl?: boolean } = {}): string[] {
  const { config } = server;
  const local = server.url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://[::1]:');
  const lines = [`Niro is running at ${local}`];
  if (options.showPublicUrl === true && config.publicUrl !== local) lines.push(`  public URL:  ${config.publicUrl}`);
  lines.push(
    config.database.kind === 'sqlite'
      ? `  data:        ${config.database.file} (SQLite)`
      : `  data:        ${maskUrl(config.database.url)} (PostgreSQL)`,
  );
  if (server.needsSetup) {
    lines.push(
      `  first admin: none yet; open ${local} in a browser on this machine to create one, or run`,
      `    curl -X POST ${local}/api/v1/setup -H 'content-type: application/json' \\`,
      `      -d '{"email":"you@example.com","password":"a-long-password"}'`,
      '  or restart with NIRO_ADMIN_EMAIL and NIRO_ADMIN_PASSWORD set.',
    );
  } else if (config.admin !== null) {
    lines.push(`  log in as:   ${config.admin.email}`);
  }
  lines.push(`  CLI:         niro login --url ${local}`, `  API docs:    ${local}/api/docs`, 'Stop with Ctrl-C.');
  return lines;
}

export function registerServerCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('server')
    .description('Run the Niro control plane (flags override the NIRO_* environment variables)');
  for (const [flag, variable, , help] of FLAGS) cmd.option(flag, `${help} [${variable}]`);
  cmd.option('--trust-proxy', 'trust X-Forwarded-* from a reverse proxy [NIRO_TRUST_PROXY]');
  cmd.addHelpText(
    'after',
    '\nLogs are JSON lines on stdout; the start-up summary and errors go to stderr.\n' +
      'Example:\n  NIRO_ADMIN_EMAIL=me@example.com NIRO_ADMIN_PASSWORD=… niro server --port 8080',
  );
  cmd.action(async (flags: ServerFlags) => {
    const config = await configInputFrom(ctx.env, flags);
    const server = await launchServer({ config, cwd: ctx.cwd });
    for (const line of startupBanner(server, { showPublicUrl: config.NIRO_PUBLIC_URL !== undefined })) {
      ctx.out.info(line);
    }
    await runUntilSignal(ctx, server);
  });
}

/** Serves until SIGINT/SIGTERM, then closes gracefully; a second signal exits without waiting. */
export async function runUntilSignal(
  ctx: CliContext,
  server: { close(): Promise<void> },
  before?: () => Promise<void>,
): Promise<void> {
  const signal = await waitForShutdown(ctx);
  ctx.out.info(`\nReceived ${signal}, shutting down… (again to exit at once)`);
  const off = ctx.onShutdownSignal(() => {
    ctx.out.info('Second signal: exiting without waiting.');
    ctx.exit(130);
  });
  try {
    await before?.();
    await server.close();
  } finally {
    off();
  }
}
