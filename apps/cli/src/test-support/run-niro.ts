import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';
import type { CliContext } from '../context.js';
import { Output } from '../output.js';
import { runCli } from '../program.js';

export type NiroRun = { code: number; stdout: string; stderr: string };

export type NiroRunOptions = {
  configDir: string;
  cwd: string;
  stdin?: string;
  env?: Record<string, string>;
  /** Emit 'signal' with a name to deliver SIGINT/SIGTERM to the command. */
  signals?: EventEmitter;
  /** Called with everything written to stderr so far, on every write. */
  onStderr?: (text: string) => void;
};

function sink(onWrite?: (text: string) => void): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      onWrite?.(chunks.join(''));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** Runs one `niro` invocation in-process with its own streams and no NIRO_* from the real environment. */
export async function runNiro(args: string[], options: NiroRunOptions): Promise<NiroRun> {
  const stdout = sink();
  const stderr = sink(options.onStderr);
  const signals = options.signals ?? new EventEmitter();
  const ctx: CliContext = {
    out: new Output({
      stdout: stdout.stream,
      stderr: stderr.stream,
      stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    }),
    env: options.env ?? {},
    configDir: options.configDir,
    cwd: options.cwd,
    onShutdownSignal: (handler) => {
      signals.on('signal', handler);
      return () => signals.off('signal', handler);
    },
    exit: (code) => {
      throw new Error(`exit ${code}`);
    },
  };
  const code = await runCli(args, ctx);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
