import { homedir } from 'node:os';
import path from 'node:path';
import type { Output } from './output.js';

/** What a command may touch outside itself; tests pass their own streams, env and config dir. */
export type CliContext = {
  out: Output;
  env: Readonly<Record<string, string | undefined>>;
  /** Where `niro login` stores `config.json`. */
  configDir: string;
  cwd: string;
  /** Calls `handler` on SIGINT/SIGTERM; returns a function that stops listening. */
  onShutdownSignal(handler: (signal: string) => void): () => void;
  /** Ends the process at once (a second Ctrl-C). */
  exit(code: number): void;
};

/** `$XDG_CONFIG_HOME/niro`, by default `~/.config/niro`. */
export function defaultConfigDir(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env.XDG_CONFIG_HOME;
  return path.join(xdg !== undefined && xdg !== '' ? xdg : path.join(homedir(), '.config'), 'niro');
}

export function processShutdownSignals(handler: (signal: string) => void): () => void {
  const listener = (signal: NodeJS.Signals): void => handler(signal);
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}

/** Resolves on the first SIGINT/SIGTERM. */
export function waitForShutdown(ctx: CliContext): Promise<string> {
  return new Promise((resolve) => {
    const off = ctx.onShutdownSignal((signal) => {
      off();
      resolve(signal);
    });
  });
}
