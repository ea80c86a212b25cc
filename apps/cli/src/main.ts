#!/usr/bin/env node
import { defaultConfigDir, processShutdownSignals, type CliContext } from './context.js';
import { Output, processStreams } from './output.js';
import { runCli } from './program.js';

const env = process.env;
const ctx: CliContext = {
  out: new Output(processStreams()),
  env,
  configDir: defaultConfigDir(env),
  cwd: process.cwd(),
  onShutdownSignal: processShutdownSignals,
  exit: (code) => process.exit(code),
};

process.exitCode = await runCli(process.argv.slice(2), ctx);
