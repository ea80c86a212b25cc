import type { CommandMessage, CommandResultBody } from '@niro/protocol';
import { fullJitterDelay, sleep, StateLog } from '../backoff.js';
import type { Logger } from '../logger.js';
import { LogSendError } from '../logs/log-stream.js';
import type { LogStreams } from '../logs/log-streams.js';
import { NiroCallError, type NiroClient } from '../niro-client.js';

export type ExecuteCommand = (command: CommandMessage) => Promise<CommandResultBody>;

export type LongPollChannelOptions = {
  niro: NiroClient;
  agentKey: string;
  execute: ExecuteCommand;
  logger: Logger;
  waitSeconds?: number;
  random?: () => number;
  /** Log streams: each message is a POST whose reply is the acknowledgement. */
  logStreams?: LogStreams;
};

const RETRY_BASE_MS = 1_000;
const RETRY_CAP_MS = 60_000;

/**
 * The long-poll transport of the command channel (DESIGN 3.3): poll, acknowledge, execute in
 * order, report. A result that cannot be delivered stays queued and goes out before the next
 * poll, so a connection lost between execution and report still brings the result exactly once
 * (the server keeps the first result of a command and ignores repeats).
 */
export class LongPollChannel {
  private readonly pending: { id: string; result: CommandResultBody }[] = [];
  private readonly state: StateLog;
  private readonly random: () => number;

  constructor(private readonly options: LongPollChannelOptions) {
    this.state = new StateLog(options.logger, 'command channel');
    this.random = options.random ?? Math.random;
  }

  /** Results executed but not yet accepted by the server. */
  get undelivered(): number {
    return this.pending.length;
  }

  async run(signal: AbortSignal): Promise<void> {
    const { niro, agentKey, logStreams } = this.options;
    logStreams?.attach({
      send: async (message) => {
        try {
          return await niro.sendLog(agentKey, message);
        } catch (err) {
          const refused = err instanceof NiroCallError && err.kind === 'http' && (err.status ?? 500) < 500;
          throw new LogSendError(!refused, err instanceof Error ? err.message : String(err));
        }
      },
    });
    try {
      await this.loop(signal);
    } finally {
      logStreams?.detach();
    }
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const { niro, agentKey, logger, logStreams } = this.options;
    for (let attempt = 0; !signal.aborted;) {
      try {
        await this.flushResults();
        const commands = await niro.pollCommands(agentKey, this.options.waitSeconds ?? 30);
        this.state.ok('connected again');
        attempt = 0;
        // Ends of streams cut off while Niro was unreachable.
        void logStreams?.flushEnds();
        for (const command of commands) {
          if (signal.aborted) return;
          await niro.ackCommand(agentKey, command.id).catch((err: unknown) => {
            // Unacknowledged, the command comes back later; the executor's ledger runs it once.
            logger.debug({ id: command.id, err: String(err) }, 'command ack failed');
          });
          const started = Date.now();
          const result = await this.options.execute(command);
          logger.info(
            { id: command.id, kind: command.kind, status: result.status, ms: Date.now() - started },
            'command done',
          );
          this.pending.push({ id: command.id, result });
          await this.flushResults();
        }
      } catch (err) {
        if (!(err instanceof NiroCallError)) throw err;
        this.state.failed(err.state, `polling for commands fails (${err.message}); retrying with backoff`);
        await sleep(
          Math.max(RETRY_BASE_MS, fullJitterDelay(attempt, RETRY_BASE_MS * 2, RETRY_CAP_MS, this.random)),
          signal,
        );
        attempt += 1;
      }
    }
  }

  /** Sends queued results in order; a 4xx answer (expired, cancelled, unknown) drops that result. */
  private async flushResults(): Promise<void> {
    const { niro, agentKey, logger } = this.options;
    while (this.pending.length > 0) {
      const next = this.pending[0];
      if (next === undefined) return;
      try {
        await niro.sendResult(agentKey, next.id, next.result);
      } catch (err) {
        if (err instanceof NiroCallError && err.kind === 'http' && err.status !== undefined && err.status < 500) {
          logger.warn({ id: next.id, status: err.status, code: err.code }, 'the server refused a command result');
        } else {
          throw err;
        }
      }
      this.pending.shift();
    }
  }
}
