import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** JSON lines on stdout; credentials are redacted wherever a field of that name appears. */
export function createAgentLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'niro-agent' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['token', 'agentKey', 'authorization', '*.token', '*.agentKey', '*.authorization'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
