import { NiroApiError } from '@niro/protocol';
import { Command, CommanderError, Option } from 'commander';
import { registerChannelCommands } from './commands/channels.js';
import { registerClusterCommands } from './commands/clusters.js';
import { registerCommandsCommands } from './commands/commands.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDeployCommands } from './commands/deploy.js';
import { registerDeploymentsCommands } from './commands/deployments.js';
import { registerIncidentCommands } from './commands/incidents.js';
import { LintExit, registerLintCommand } from './commands/lint.js';
import { registerLoginCommands } from './commands/login.js';
import { registerLogsCommand } from './commands/logs.js';
import { registerServerCommand } from './commands/server.js';
import { registerSimulateCommand } from './commands/simulate.js';
import { registerSuppressionCommands } from './commands/suppressions.js';
import type { CliContext } from './context.js';
import { CliError, UnreachableError, isConnectionError } from './errors.js';

export const CLI_VERSION = '0.1.0';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('niro')
    .description('Niro: one control plane for fleets of small Kubernetes clusters')
    .version(CLI_VERSION, '-v, --version')
    .option('--url <url>', 'Niro server URL [NIRO_URL, or the one from `niro login`]')
    .option('--token <token>', 'API token [NIRO_TOKEN, or the one from `niro login`]')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.out.writeOut(s),
      writeErr: (s) => ctx.out.writeErr(s),
      outputError: (s, write) => write(s.replace(/^error: /, 'niro: ')),
    });
  registerServerCommand(program, ctx);
  registerLoginCommands(program, ctx);
  registerClusterCommands(program, ctx);
  registerLogsCommand(program, ctx);
  registerCommandsCommands(program, ctx);
  registerSimulateCommand(program, ctx);
  registerDemoCommand(program, ctx);
  registerLintCommand(program, ctx, CLI_VERSION);
  registerSuppressionCommands(program, ctx);
  registerIncidentCommands(program, ctx);
  registerChannelCommands(program, ctx);
  registerDeployCommands(program, ctx);
  registerDeploymentsCommands(program, ctx);
  return program;
}

/** Runs the CLI and returns the exit code: 0 ok, 1 failure, 2 usage or configuration error. */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    return reportError(ctx, err);
  }
}

function reportError(ctx: CliContext, err: unknown): number {
  ctx.out.clearStatus();
  if (err instanceof CommanderError) {
    // Help and version "errors" are normal exits; commander has printed the rest already.
    if (err.exitCode === 0) return 0;
    return err.code === 'commander.help' || err.code === 'commander.helpDisplayed' ? 0 : 2;
  }
  // `niro lint` has printed its report; only the exit code is left.
  if (err instanceof LintExit) return err.exitCode;
  if (err instanceof CliError) {
    ctx.out.error(err.message);
    return err.exitCode;
  }
  if (err instanceof NiroApiError) {
    ctx.out.error(`${err.message} (${err.code})`);
    return 1;
  }
  if (isConnectionError(err)) {
    ctx.out.error(new UnreachableError('the server', err).message);
    return 1;
  }
  ctx.out.error(err instanceof Error ? err.message : String(err));
  return 1;
}
