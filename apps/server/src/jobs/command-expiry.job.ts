import type { Logger } from '../logger.js';
import type { CommandsService } from '../modules/commands/commands.service.js';

export type CommandExpiryJobOptions = { tickIntervalMs: number };

export const DEFAULT_COMMAND_EXPIRY_OPTIONS: CommandExpiryJobOptions = { tickIntervalMs: 10_000 };

/**
 * Marks commands that were not finished by their `expiresAt` as `expired`. Delivery and results
 * already refuse a command past its time on their own; this makes the stored state say so.
 */
export class CommandExpiryJob {
  private readonly options: CommandExpiryJobOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    readonly commands: CommandsService,
    readonly logger: Logger,
    options: Partial<CommandExpiryJobOptions> = {},
  ) {
    this.options = { ...DEFAULT_COMMAND_EXPIRY_OPTIONS, ...options };
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => {
      this.tick().catch((err: unknown) => this.logger.error({ err }, 'command expiry job failed'));
    }, this.options.tickIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One sweep; concurrent calls share the sweep in progress. Returns how many commands expired. */
  tick(): Promise<number> {
    this.running ??= this.commands.expireDue().finally(() => {
      this.running = null;
    });
    return this.running;
  }
}
