import { AGENT_NAMESPACE } from '@niro/protocol/agent-install';
import { LOG_LEVELS, type LogLevel } from './logger.js';

export class AgentConfigError extends Error {
  override name = 'AgentConfigError';
}

export type AgentConfig = {
  /** Base URL of Niro, e.g. https://niro.example.com. */
  niroUrl: string;
  /** Single-use enrollment token; only needed until the key is stored. */
  token: string | undefined;
  /** Where the key Secret lives: the agent's own namespace. */
  namespace: string;
  logLevel: LogLevel;
  /** Pod usage goes out at most this often (node usage goes with every heartbeat). */
  podUsageIntervalMs: number;
  /** Warning events younger than this go out with each heartbeat. */
  eventWindowMs: number;
  /** A call to Niro that takes longer counts as failed. */
  requestTimeoutMs: number;
  /**
   * `auto`: WebSocket, falling back to long-poll where the upgrade is refused; `long-poll`: never
   * try WebSocket (a proxy that accepts the upgrade but then breaks the connection).
   */
  commandChannel: CommandChannelMode;
};

export const COMMAND_CHANNEL_MODES = ['auto', 'long-poll'] as const;
export type CommandChannelMode = (typeof COMMAND_CHANNEL_MODES)[number];

/**
 * The agent's settings from its environment. Capabilities are deliberately not configurable here:
 * they follow the RBAC the cluster grants (DESIGN 4.4). Errors name the variable.
 */
export function loadAgentConfig(env: NodeJS.ProcessEnv): AgentConfig {
  const rawUrl = env.NIRO_URL?.trim();
  if (rawUrl === undefined || rawUrl === '')
    throw new AgentConfigError('NIRO_URL is not set (the URL of your Niro server)');
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new AgentConfigError(`NIRO_URL is not a valid URL: ${JSON.stringify(rawUrl)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AgentConfigError(`NIRO_URL must start with https:// or http://, got ${JSON.stringify(url.protocol)}`);
  }
  if (url.username !== '' || url.password !== '') throw new AgentConfigError('NIRO_URL must not contain credentials');
  const level = (env.NIRO_LOG_LEVEL ?? 'info').trim();
  const logLevel = LOG_LEVELS.find((l) => l === level);
  if (logLevel === undefined) {
    throw new AgentConfigError(`NIRO_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  }
  const channel = (env.NIRO_COMMAND_CHANNEL ?? '').trim() || 'auto';
  const commandChannel = COMMAND_CHANNEL_MODES.find((m) => m === channel);
  if (commandChannel === undefined) {
    throw new AgentConfigError(
      `NIRO_COMMAND_CHANNEL must be one of ${COMMAND_CHANNEL_MODES.join(', ')}, got ${JSON.stringify(channel)}`,
    );
  }
  const token = env.NIRO_TOKEN?.trim();
  const namespace = (env.POD_NAMESPACE ?? '').trim() || AGENT_NAMESPACE;
  return {
    niroUrl: url.href.replace(/\/+$/, ''),
    token: token === undefined || token === '' ? undefined : token,
    namespace,
    logLevel,
    podUsageIntervalMs: seconds(env, 'NIRO_POD_USAGE_INTERVAL', 300) * 1000,
    eventWindowMs: seconds(env, 'NIRO_EVENT_WINDOW', 3600) * 1000,
    requestTimeoutMs: seconds(env, 'NIRO_REQUEST_TIMEOUT', 20) * 1000,
    commandChannel,
  };
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 86_400) {
    throw new AgentConfigError(
      `${name} must be a whole number of seconds between 1 and 86400, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
