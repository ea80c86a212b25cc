import pino, { type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/**
 * Structured logs (pino). Secrets never reach a log line: credentials live in headers and bodies,
 * which the request serializer leaves out, and these paths are redacted wherever they appear.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'password',
  'token',
  'agentKey',
  'secret',
  '*.password',
  '*.token',
  '*.agentKey',
  '*.secret',
];

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: 'niro-server' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
