import type { Capabilities } from './agent.js';

/**
 * Command kinds (DESIGN 3.3) and the capability each needs. Plain constants, no schema code, so
 * the agent can load them without TypeBox.
 */
export const COMMAND_KINDS = ['ping', 'apply', 'delete', 'diff', 'logs', 'logs-stop', 'self-update'] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

export const COMMAND_CAPABILITY: Record<CommandKind, keyof Capabilities | null> = {
  ping: null,
  apply: 'apply',
  delete: 'apply',
  diff: 'apply',
  logs: 'logs',
  'logs-stop': 'logs',
  'self-update': 'selfUpdate',
};

export const COMMAND_STATES = [
  'queued',
  'delivered',
  'succeeded',
  'failed',
  'partial',
  'expired',
  'cancelled',
] as const;
export type CommandState = (typeof COMMAND_STATES)[number];
export const FINAL_COMMAND_STATES: readonly CommandState[] = ['succeeded', 'failed', 'partial', 'expired', 'cancelled'];

/** Limits shared by the server (it refuses larger) and the agent (it refuses to parse larger). */
export const COMMAND_LIMITS = {
  /** The whole `payload` of one command, as JSON. */
  payloadBytes: 2 * 1024 * 1024,
  /** Multi-document YAML of an apply/diff. */
  manifestBytes: 2 * 1024 * 1024,
  manifestDocuments: 500,
  /** YAML aliases per document: more is treated as a YAML bomb. */
  yamlAliases: 100,
  /** A result, as JSON. */
  resultBytes: 1024 * 1024,
  /** Default and bounds of `expiresInSeconds`. */
  defaultExpirySeconds: 600,
  minExpirySeconds: 10,
  maxExpirySeconds: 86_400,
};

/**
 * Log streams (`logs` command, DESIGN 3.3): the agent sends `log` messages of whole lines and may
 * have at most `window` of them unacknowledged per stream; the server acknowledges a message once
 * its lines are written to the reader, so a slow reader slows the agent's read from the
 * Kubernetes API instead of filling buffers in between.
 */
export const LOG_LIMITS = {
  /** One line; a longer one is cut to this many bytes and marked `…[truncated N bytes]`. */
  lineBytes: 16 * 1024,
  /** Lines of one `log` message, as UTF-8 bytes. */
  chunkBytes: 64 * 1024,
  chunkLines: 2_000,
  /** Unacknowledged `log` messages per stream. */
  window: 4,
  /** With a full window and no acknowledgement for this long, the agent ends the stream. */
  ackTimeoutSeconds: 60,
  /** Default `tailLines` when the request names none. */
  defaultTailLines: 500,
  maxTailLines: 100_000,
};

/** Why a log stream ended (`log-end`). */
export const LOG_END_REASONS = ['eof', 'stopped', 'error'] as const;
export type LogEndReason = (typeof LOG_END_REASONS)[number];
