import path from 'node:path';
import { parseSecretKeys } from './lib/secret-box.js';

/**
 * Configuration is read once, here, from `NIRO_*` variables (CLI flags override them). A wrong
 * value stops start-up with one line naming the variable (DESIGN section 7).
 */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export type Config = Readonly<{
  port: number;
  host: string;
  dataDir: string;
  /** `sqlite:<file>` or a `postgres://` URL. */
  database: Readonly<{ kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string }>;
  publicUrl: string;
  secretKey: string | null;
  admin: Readonly<{ email: string; password: string }> | null;
  offlineAfterMs: number;
  heartbeatIntervalSeconds: number;
  logLevel: LogLevel;
  /** Trust `X-Forwarded-*` from a reverse proxy (for client IPs and TLS detection). */
  trustProxy: boolean;
  /** The agent image the install manifest deploys. */
  agentImage: string;
  /** Outgoing mail for email notification channels; null when NIRO_SMTP_URL is unset. */
  smtp: Readonly<{ url: string; from: string }> | null;
  /** How often managed deployments are compared with their cluster (NIRO_DRIFT_INTERVAL); null: never. */
  driftIntervalMs: number | null;
}>;

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type ConfigInput = Partial<Record<ConfigVariable, string | undefined>>;

export const CONFIG_VARIABLES = [
  'NIRO_PORT',
  'NIRO_HOST',
  'NIRO_DATA_DIR',
  'NIRO_DATABASE_URL',
  'NIRO_PUBLIC_URL',
  'NIRO_SECRET_KEY',
  'NIRO_ADMIN_EMAIL',
  'NIRO_ADMIN_PASSWORD',
  'NIRO_OFFLINE_AFTER',
  'NIRO_HEARTBEAT_INTERVAL',
  'NIRO_LOG_LEVEL',
  'NIRO_TRUST_PROXY',
  'NIRO_AGENT_IMAGE',
  'NIRO_SMTP_URL',
  'NIRO_SMTP_FROM',
  'NIRO_DRIFT_INTERVAL',
] as const;
export type ConfigVariable = (typeof CONFIG_VARIABLES)[number];

/** The agent released with this server version (apps/server/package.json; a test keeps them equal). */
export const DEFAULT_AGENT_IMAGE = 'ghcr.io/niro-dev/niro-agent:0.1.0';
/** `registry[:port]/path[:tag][@digest]`; it ends up in YAML, so no spaces or quotes. */
const IMAGE_REFERENCE =
  /^[A-Za-z0-9][A-Za-z0-9._-]*(?::\d+)?(?:\/[a-z0-9._-]+)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parses `90s`, `5m`, `1h`, `250ms` or a bare number of seconds into milliseconds. */
export function parseDuration(variable: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new ConfigError(variable, `"${value}" is not a duration (use e.g. 90s, 5m, 1h)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

function parsePort(variable: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(variable, `"${value}" is not a TCP port (0-65535)`);
  }
  return n;
}

function parseBool(variable: string, value: string): boolean {
  if (['1', 'true', 'yes', 'on'].includes(value.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off', ''].includes(value.toLowerCase())) return false;
  throw new ConfigError(variable, `"${value}" is not a boolean (use true or false)`);
}

export function loadConfig(input: ConfigInput, cwd: string = process.cwd()): Config {
  const get = (k: ConfigVariable): string | undefined => {
    const v = input[k];
    return v === undefined || v === '' ? undefined : v;
  };
  const port = parsePort('NIRO_PORT', get('NIRO_PORT') ?? '8080');
  const host = get('NIRO_HOST') ?? '127.0.0.1';
  const dataDir = path.resolve(cwd, get('NIRO_DATA_DIR') ?? '.niro');

  const dbUrl = get('NIRO_DATABASE_URL');
  let database: Config['database'];
  if (dbUrl === undefined) {
    database = { kind: 'sqlite', file: path.join(dataDir, 'niro.db') };
  } else if (/^postgres(ql)?:\/\//.test(dbUrl)) {
    database = { kind: 'postgres', url: dbUrl };
  } else if (dbUrl.startsWith('sqlite:')) {
    const file = dbUrl.slice('sqlite:'.length).replace(/^\/\//, '');
    if (file === '') throw new ConfigError('NIRO_DATABASE_URL', 'sqlite: URL has no file path');
    database = { kind: 'sqlite', file: file === ':memory:' ? file : path.resolve(cwd, file) };
  } else {
    throw new ConfigError(
      'NIRO_DATABASE_URL',
      'must start with postgres://, postgresql:// or sqlite: (leave unset for SQLite in the data dir)',
    );
  }

  const publicUrlRaw = get('NIRO_PUBLIC_URL') ?? `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  let publicUrl: string;
  try {
    const u = new URL(publicUrlRaw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
    publicUrl = u.toString().replace(/\/+$/, '');
  } catch {
    throw new ConfigError('NIRO_PUBLIC_URL', `"${publicUrlRaw}" is not an http(s) URL`);
  }

  const secretKey = get('NIRO_SECRET_KEY') ?? null;
  if (secretKey !== null && parseSecretKeys(secretKey) === null) {
    throw new ConfigError(
      'NIRO_SECRET_KEY',
      'must be base64 keys of at least 32 bytes each, comma-separated, newest first (openssl rand -base64 32)',
    );
  }

  const adminEmail = get('NIRO_ADMIN_EMAIL');
  const adminPassword = get('NIRO_ADMIN_PASSWORD');
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    throw new ConfigError(
      adminEmail === undefined ? 'NIRO_ADMIN_EMAIL' : 'NIRO_ADMIN_PASSWORD',
      'NIRO_ADMIN_EMAIL and NIRO_ADMIN_PASSWORD must be set together',
    );
  }
  if (adminEmail !== undefined && !/^[^\s@]+@[^\s@]+$/.test(adminEmail)) {
    throw new ConfigError('NIRO_ADMIN_EMAIL', 'is not an email address');
  }
  if (adminPassword !== undefined && adminPassword.length < 8) {
    throw new ConfigError('NIRO_ADMIN_PASSWORD', 'must be at least 8 characters');
  }

  const offlineAfterMs = parseDuration('NIRO_OFFLINE_AFTER', get('NIRO_OFFLINE_AFTER') ?? '5m');
  if (offlineAfterMs < 30_000) throw new ConfigError('NIRO_OFFLINE_AFTER', 'must be at least 30s');
  const hbMs = parseDuration('NIRO_HEARTBEAT_INTERVAL', get('NIRO_HEARTBEAT_INTERVAL') ?? '15s');
  if (hbMs < 1000 || hbMs > 300_000) {
    throw new ConfigError('NIRO_HEARTBEAT_INTERVAL', 'must be between 1s and 5m');
  }

  const logLevel = (get('NIRO_LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new ConfigError('NIRO_LOG_LEVEL', `"${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  }

  const agentImage = get('NIRO_AGENT_IMAGE') ?? DEFAULT_AGENT_IMAGE;
  if (agentImage.length > 512 || !IMAGE_REFERENCE.test(agentImage)) {
    throw new ConfigError(
      'NIRO_AGENT_IMAGE',
      `"${agentImage}" is not a container image reference (e.g. ghcr.io/niro-dev/niro-agent:0.1.0)`,
    );
  }

  const smtp = parseSmtp(get('NIRO_SMTP_URL'), get('NIRO_SMTP_FROM'));

  const driftText = get('NIRO_DRIFT_INTERVAL') ?? '5m';
  const driftIntervalMs = driftText === 'off' ? null : parseDuration('NIRO_DRIFT_INTERVAL', driftText);
  if (driftIntervalMs !== null && driftIntervalMs < 10_000) {
    throw new ConfigError('NIRO_DRIFT_INTERVAL', 'must be at least 10s, or "off"');
  }

  return Object.freeze({
    port,
    host,
    dataDir,
    database: Object.freeze(database),
    publicUrl,
    secretKey,
    admin:
      adminEmail !== undefined && adminPassword !== undefined
        ? Object.freeze({ email: adminEmail.toLowerCase(), password: adminPassword })
        : null,
    offlineAfterMs,
    heartbeatIntervalSeconds: Math.round(hbMs / 1000),
    logLevel: logLevel as LogLevel,
    trustProxy: parseBool('NIRO_TRUST_PROXY', get('NIRO_TRUST_PROXY') ?? 'false'),
    agentImage,
    smtp,
    driftIntervalMs,
  });
}

/** `smtp://` or `smtps://` (user and password in the URL when the relay needs them) and a sender address. */
function parseSmtp(url: string | undefined, from: string | undefined): Config['smtp'] {
  if (url === undefined) {
    if (from !== undefined) throw new ConfigError('NIRO_SMTP_FROM', 'is set but NIRO_SMTP_URL is not');
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Never echo the value: it may carry the relay's password.
    throw new ConfigError('NIRO_SMTP_URL', 'is not a URL (use smtp://user:password@host:587 or smtps://host:465)');
  }
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') {
    throw new ConfigError('NIRO_SMTP_URL', `must start with smtp:// or smtps://, not ${parsed.protocol}//`);
  }
  if (parsed.hostname === '') throw new ConfigError('NIRO_SMTP_URL', 'has no host');
  if (from === undefined) {
    throw new ConfigError('NIRO_SMTP_FROM', 'is required with NIRO_SMTP_URL (e.g. niro@example.com)');
  }
  const address = /<([^<>]+)>\s*$/.exec(from)?.[1] ?? from;
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(address.trim())) {
    throw new ConfigError(
      'NIRO_SMTP_FROM',
      `"${from}" is not an email address (e.g. niro@example.com or "Niro <niro@example.com>")`,
    );
  }
  return Object.freeze({ url, from });
}

/** Picks the `NIRO_*` variables out of an environment (the only place `process.env` is read). */
export function configInputFromEnv(env: NodeJS.ProcessEnv = process.env): ConfigInput {
  const out: ConfigInput = {};
  for (const k of CONFIG_VARIABLES) out[k] = env[k];
  return out;
}
