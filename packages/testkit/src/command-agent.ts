/**
 * Simulated agents for the command channel (DESIGN 3.3): one WebSocket per agent key to
 * `GET /api/agent/v1/connect`, `hello` first, `ack` on each command, then a `result` that stays
 * pending until the server's `result-ack`. They reconnect with capped exponential backoff (full
 * jitter unless turned off) and keep an in-memory ledger keyed by command id, as the real agent
 * does, so a redelivered command is answered again rather than run again. Every delivery,
 * execution (effect) and connection attempt is counted, for the reliability tests' figures.
 */
import { CommandMessage, type CommandResultBody } from '@niro/protocol';
import { Value } from 'typebox/value';
import WebSocket from 'ws';

export const COMMAND_AGENT_CONNECT_PATH = '/api/agent/v1/connect';
export const COMMAND_AGENT_VERSION = '0.1.0-sim';
const PROTOCOL_VERSION = 1;

export type ReconnectBackoff = {
  baseMs: number;
  capMs: number;
  /** Full jitter: uniform in [0, ceiling]. Without it every agent waits exactly the ceiling. */
  jitter: boolean;
};

/** The agent's own schedule: 1 s doubling to 60 s, full jitter. */
export const DEFAULT_RECONNECT_BACKOFF: ReconnectBackoff = { baseMs: 1_000, capMs: 60_000, jitter: true };

/** Wait before reconnect attempt `attempt` (0 after a connection that worked): min(cap, base·2^attempt), jittered. */
export function reconnectDelayMs(
  attempt: number,
  backoff: ReconnectBackoff = DEFAULT_RECONNECT_BACKOFF,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
  return backoff.jitter ? Math.floor(random() * ceiling) : ceiling;
}

/** What to do with a command that just arrived. */
export type LedgerDecision =
  /** First time seen: run it. */
  | { action: 'execute' }
  /** Already answered: send this result again instead of running it twice. */
  | { action: 'resend'; result: CommandResultBody }
  /** Seen and still running or waiting to run: its result goes out when done. */
  | { action: 'running' };

type LedgerEntry = {
  deliveries: number;
  effects: number;
  result: CommandResultBody | null;
  /** The server confirmed the result (`result-ack`) or refused it for good (error frame). */
  settled: boolean;
  recorded: boolean | null;
  resultSends: number;
};

/**
 * The applied-ledger keyed by command id: counts deliveries and effects and keeps each result
 * until the server has confirmed it. Pure bookkeeping, no I/O.
 */
export class CommandLedger {
  private readonly entries = new Map<string, LedgerEntry>();

  /** A command frame arrived (first delivery or a redelivery). */
  received(id: string): LedgerDecision {
    const entry = this.entries.get(id);
    if (entry === undefined) {
      this.entries.set(id, {
        deliveries: 1,
        effects: 0,
        result: null,
        settled: false,
        recorded: null,
        resultSends: 0,
      });
      return { action: 'execute' };
    }
    entry.deliveries += 1;
    return entry.result === null ? { action: 'running' } : { action: 'resend', result: entry.result };
  }

  /** The command ran (the side effect happened) and produced this result. */
  executed(id: string, result: CommandResultBody): void {
    const entry = this.entry(id);
    entry.effects += 1;
    entry.result = result;
  }

  /** A result frame went out for the command. */
  sent(id: string): void {
    this.entry(id).resultSends += 1;
  }

  /** The server answered the result: recorded now (`true`) or already had one (`false`). */
  acknowledged(id: string, recorded: boolean): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    entry.settled = true;
    entry.recorded ??= recorded;
  }

  /** The server refused the command for good (unknown, cancelled, expired): nothing to re-send. */
  refused(id: string): void {
    const entry = this.entries.get(id);
    if (entry !== undefined) entry.settled = true;
  }

  /** Results the server has not confirmed yet, to send again after a reconnect. */
  unconfirmed(): Array<[string, CommandResultBody]> {
    const out: Array<[string, CommandResultBody]> = [];
    for (const [id, entry] of this.entries) {
      if (entry.result !== null && !entry.settled) out.push([id, entry.result]);
    }
    return out;
  }

  deliveries(id: string): number {
    return this.entries.get(id)?.deliveries ?? 0;
  }

  effects(id: string): number {
    return this.entries.get(id)?.effects ?? 0;
  }

  resultSends(id: string): number {
    return this.entries.get(id)?.resultSends ?? 0;
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  private entry(id: string): LedgerEntry {
    const entry = this.entries.get(id);
    if (entry === undefined) throw new Error(`command ${id} is not in the ledger`);
    return entry;
  }
}

export type CommandAgentOptions = {
  /** Base URL of the Niro server (`http://…`). */
  url: string;
  agentKey: string;
  backoff?: Partial<ReconnectBackoff>;
  random?: () => number;
  /** Time spent "running" each command before its result, in ms. */
  executionDelayMs?: number | ((command: CommandMessage) => number);
  /** The command's effect and result; `{ pong: true }` for everything by default. */
  execute?: (command: CommandMessage) => CommandResultBody | Promise<CommandResultBody>;
  /** Timestamps (ms since the epoch) for connection figures. */
  now?: () => number;
  /** Called with the time of every connection attempt and every opened connection. */
  onConnectAttempt?: (at: number) => void;
  onConnected?: (at: number) => void;
  onDisconnected?: (at: number) => void;
};

/** One simulated agent: a reconnect loop around one WebSocket, commands run one at a time in arrival order. */
export class SimulatedCommandAgent {
  readonly ledger = new CommandLedger();
  /** Connection attempts (ms since the epoch). */
  readonly connectAttempts: number[] = [];
  /** Connections the server accepted (upgrade done, hello sent). */
  readonly connections: number[] = [];
  /** Error frames the server sent, by code. */
  readonly errors = new Map<string, number>();
  private readonly backoff: ReconnectBackoff;
  private readonly random: () => number;
  private readonly now: () => number;
  private socket: WebSocket | null = null;
  private stopped = false;
  private wakeSleep: (() => void) | null = null;
  private queue: Promise<void> = Promise.resolve();
  private loop: Promise<void> | null = null;
  private firstOpen: Promise<void>;
  private resolveFirstOpen: () => void = () => undefined;

  constructor(private readonly options: CommandAgentOptions) {
    this.backoff = { ...DEFAULT_RECONNECT_BACKOFF, ...options.backoff };
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.firstOpen = new Promise((resolve) => (this.resolveFirstOpen = resolve));
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Starts the reconnect loop; resolves once the first connection is open. */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.firstOpen;
  }

  /** Closes the connection and ends the loop; commands still running finish first. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeSleep?.();
    this.socket?.terminate();
    this.resolveFirstOpen();
    await this.loop;
    await this.queue;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const opened = await this.connectOnce();
      if (this.stopped) break;
      if (opened) attempt = 0;
      await this.sleep(reconnectDelayMs(attempt, this.backoff, this.random));
      attempt += 1;
    }
  }

  /** One connection's life; resolves with whether it opened, once it has closed. */
  private connectOnce(): Promise<boolean> {
    const at = this.now();
    this.connectAttempts.push(at);
    this.options.onConnectAttempt?.(at);
    const url = `${this.options.url.replace(/^http/, 'ws').replace(/\/+$/, '')}${COMMAND_AGENT_CONNECT_PATH}`;
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.options.agentKey}` },
      perMessageDeflate: false,
      handshakeTimeout: 20_000,
    });
    this.socket = ws;
    let opened = false;
    return new Promise((resolve) => {
      ws.on('open', () => {
        opened = true;
        const openedAt = this.now();
        this.connections.push(openedAt);
        this.options.onConnected?.(openedAt);
        this.send(ws, { type: 'hello', version: COMMAND_AGENT_VERSION, protocol: PROTOCOL_VERSION });
        for (const [id, result] of this.ledger.unconfirmed()) this.sendResult(ws, id, result);
        this.resolveFirstOpen();
      });
      ws.on('message', (data, isBinary) => {
        if (!isBinary) this.receive(ws, rawText(data));
      });
      // A refused upgrade or a reset: 'close' follows and the loop backs off.
      ws.on('error', () => undefined);
      ws.on('close', () => {
        if (this.socket === ws) this.socket = null;
        if (opened) this.options.onDisconnected?.(this.now());
        resolve(opened);
      });
    });
  }

  private receive(ws: WebSocket, text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      this.countError('not_json');
      return;
    }
    if (typeof frame !== 'object' || frame === null || !('type' in frame)) return;
    const id = 'id' in frame && typeof frame.id === 'string' ? frame.id : undefined;
    switch (frame.type) {
      case 'command': {
        if (!Value.Check(CommandMessage, frame)) {
          this.countError('unreadable_command');
          return;
        }
        const command = frame;
        this.send(ws, { type: 'ack', id: command.id });
        const decision = this.ledger.received(command.id);
        if (decision.action === 'execute') this.enqueue(command);
        else if (decision.action === 'resend') this.sendResult(ws, command.id, decision.result);
        return;
      }
      case 'result-ack':
        if (id !== undefined) {
          this.ledger.acknowledged(id, 'recorded' in frame && frame.recorded === true);
        }
        return;
      case 'error':
        this.countError('code' in frame && typeof frame.code === 'string' ? frame.code : 'unknown');
        if (id !== undefined) this.ledger.refused(id);
        return;
    }
  }

  private enqueue(command: CommandMessage): void {
    this.queue = this.queue.then(async () => {
      const delay = this.options.executionDelayMs;
      const ms = typeof delay === 'function' ? delay(command) : (delay ?? 0);
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
      let result: CommandResultBody;
      try {
        result = (await this.options.execute?.(command)) ?? { status: 'succeeded', result: { pong: true } };
      } catch (err) {
        result = { status: 'failed', error: { code: 'agent_error', message: String(err).slice(0, 500) } };
      }
      this.ledger.executed(command.id, result);
      const ws = this.socket;
      if (ws !== null && ws.readyState === WebSocket.OPEN) this.sendResult(ws, command.id, result);
    });
  }

  private sendResult(ws: WebSocket, id: string, result: CommandResultBody): void {
    this.ledger.sent(id);
    this.send(ws, { type: 'result', id, ...result });
  }

  private send(ws: WebSocket, message: object): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  private countError(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      this.wakeSleep = done;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}

export type CommandAgentFleetOptions = Omit<
  CommandAgentOptions,
  'agentKey' | 'onConnectAttempt' | 'onConnected' | 'onDisconnected'
> & {
  agentKeys: readonly string[];
  /** First connections opened at most this many at a time (the start itself is no storm). */
  startConcurrency?: number;
};

export type CommandAgentFleet = {
  agents: SimulatedCommandAgent[];
  /** Every connection attempt of every agent (ms since the epoch), in time order. */
  connectAttempts: number[];
  /** Every opened connection (ms since the epoch), in time order. */
  connections: number[];
  /** Agents with an open connection now. */
  connected(): number;
  deliveries(id: string): number;
  effects(id: string): number;
  resultSends(id: string): number;
  /** Every command id any agent received. */
  commandIds(): string[];
  /** Error frames from the server, by code, over all agents. */
  errors(): Map<string, number>;
  stop(): Promise<void>;
};

/** Starts one simulated agent per key and resolves when each has connected once. */
export async function startCommandAgents(options: CommandAgentFleetOptions): Promise<CommandAgentFleet> {
  const { agentKeys, startConcurrency = 50, ...agentOptions } = options;
  const connectAttempts: number[] = [];
  const connections: number[] = [];
  let open = 0;
  const agents = agentKeys.map(
    (agentKey) =>
      new SimulatedCommandAgent({
        ...agentOptions,
        agentKey,
        onConnectAttempt: (at) => connectAttempts.push(at),
        onConnected: (at) => {
          open += 1;
          connections.push(at);
        },
        onDisconnected: () => (open -= 1),
      }),
  );
  const fleet: CommandAgentFleet = {
    agents,
    connectAttempts,
    connections,
    connected: () => open,
    deliveries: (id) => agents.reduce((n, a) => n + a.ledger.deliveries(id), 0),
    effects: (id) => agents.reduce((n, a) => n + a.ledger.effects(id), 0),
    resultSends: (id) => agents.reduce((n, a) => n + a.ledger.resultSends(id), 0),
    commandIds: () => agents.flatMap((a) => a.ledger.ids()),
    errors() {
      const out = new Map<string, number>();
      for (const a of agents) for (const [code, n] of a.errors) out.set(code, (out.get(code) ?? 0) + n);
      return out;
    },
    async stop() {
      await Promise.all(agents.map((a) => a.stop()));
    },
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let agent = agents[next++]; agent !== undefined; agent = agents[next++]) await agent.start();
  };
  try {
    await Promise.all(Array.from({ length: Math.min(startConcurrency, agents.length) }, worker));
  } catch (err) {
    await fleet.stop();
    throw err;
  }
  return fleet;
}

/** The most values of a sorted list that fall in any window of `windowMs` (e.g. peak attempts per second). */
export function peakInWindow(sortedTimes: readonly number[], windowMs: number): number {
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sortedTimes.length; end++) {
    const t = sortedTimes[end] ?? 0;
    while ((sortedTimes[start] ?? 0) <= t - windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
