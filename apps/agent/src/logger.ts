/**
 * JSON-lines logging, one object per line on stdout, in pino's format (numeric `level`, `time`,
 * `msg`) so the usual tools read it. Not pino itself: the agent's memory budget is tight and pino
 * costs ~9 MB of RSS for features the agent does not use.
 */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

type Fields = Record<string, unknown>;
export type LogFn = {
  (msg: string): void;
  (fields: Fields, msg?: string): void;
};

export interface Logger {
  readonly level: LogLevel;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** A logger that adds `bindings` to every line. */
  child(bindings: Fields): Logger;
}

export type LogSink = { write(line: string): unknown };

const RANK: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};

/** Fields whose values never reach a log line, at any depth. */
const REDACTED = new Set(['token', 'agentKey', 'authorization', 'password', 'clientKey']);

function replacer(key: string, value: unknown): unknown {
  if (REDACTED.has(key)) return '[redacted]';
  if (value instanceof Error) return { type: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

export function createAgentLogger(level: LogLevel, sink: LogSink = process.stdout, bindings: Fields = {}): Logger {
  const threshold = RANK[level];
  const base = { service: 'niro-agent', ...bindings };
  const at = (name: Exclude<LogLevel, 'silent'>): LogFn => {
    const rank = RANK[name];
    if (rank < threshold) return () => undefined;
    return (first: Fields | string, msg?: string): void => {
      const fields = typeof first === 'string' ? {} : first;
      const text = typeof first === 'string' ? first : msg;
      const line = { level: rank, time: new Date().toISOString(), ...base, ...fields, msg: text };
      let json: string;
      try {
        json = JSON.stringify(line, replacer);
      } catch {
        json = JSON.stringify({ level: rank, time: line.time, ...base, msg: text, logError: 'unserialisable fields' });
      }
      sink.write(`${json}\n`);
    };
  };
  return {
    level,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: (more) => createAgentLogger(level, sink, { ...bindings, ...more }),
  };
}
