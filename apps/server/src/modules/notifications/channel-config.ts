import { randomBytes } from 'node:crypto';
import type { NotificationChannelConfig, NotificationChannelType } from '@niro/protocol';
import { BadRequestError } from '../../errors.js';
import { isRecord } from '../../lib/validation.js';

/** A channel's config with its secrets, as sealed at rest and handed to its sender. */
export type ChannelSecrets =
  | { type: 'webhook'; url: string; signingSecret: string }
  | { type: 'slack'; url: string }
  | { type: 'discord'; url: string }
  | { type: 'pagerduty'; routingKey: string }
  | { type: 'email'; to: string[] };

/** What the API may show of a config: never a secret. */
export type RedactedConfig = Record<string, string | string[]>;

const SIGNING_SECRET_PREFIX = 'whsec_';

/** `whsec_` + base64 of 32 random bytes, as Standard Webhooks libraries expect. */
export const newSigningSecret = (): string => SIGNING_SECRET_PREFIX + randomBytes(32).toString('base64');

/** The HMAC key of a `whsec_` secret: its base64 part, decoded. */
export const signingKeyOf = (secret: string): Buffer =>
  Buffer.from(secret.startsWith(SIGNING_SECRET_PREFIX) ? secret.slice(SIGNING_SECRET_PREFIX.length) : secret, 'base64');

const FIELDS: Record<NotificationChannelType, keyof NotificationChannelConfig> = {
  webhook: 'url',
  slack: 'url',
  discord: 'url',
  pagerduty: 'routingKey',
  email: 'to',
};

/**
 * Checks that the config has exactly the field its type needs, with a usable value, and returns
 * the secrets to seal. A webhook keeps its signing secret across config changes (`existing`).
 */
export function parseChannelConfig(
  type: NotificationChannelType,
  input: NotificationChannelConfig,
  existing?: ChannelSecrets,
): ChannelSecrets {
  const needed = FIELDS[type];
  for (const key of Object.keys(input)) {
    if (key !== needed) throw invalid(`body.config.${key}`, `is not a field of a ${type} channel (it takes ${needed})`);
  }
  switch (type) {
    case 'webhook':
      return {
        type,
        url: httpUrl(input.url),
        signingSecret: existing?.type === 'webhook' ? existing.signingSecret : newSigningSecret(),
      };
    case 'slack':
    case 'discord':
      return { type, url: httpUrl(input.url) };
    case 'pagerduty': {
      const routingKey = input.routingKey?.trim() ?? '';
      if (routingKey === '') throw invalid('body.config.routingKey', 'is required for a pagerduty channel');
      if (!/^[A-Za-z0-9]+$/.test(routingKey)) {
        throw invalid(
          'body.config.routingKey',
          'must be the integration key of a PagerDuty service (letters and digits)',
        );
      }
      return { type, routingKey };
    }
    case 'email': {
      const to = input.to ?? [];
      if (to.length === 0) throw invalid('body.config.to', 'is required for an email channel: one or more addresses');
      return { type, to: to.map((a) => a.toLowerCase()) };
    }
  }
}

function httpUrl(value: string | undefined): string {
  if (value === undefined) throw invalid('body.config.url', 'is required for this channel type');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('body.config.url', 'is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalid('body.config.url', 'must be an https:// or http:// URL');
  }
  if (url.hostname === '') throw invalid('body.config.url', 'has no host');
  return url.toString();
}

/** The URL's origin, the routing key's last four characters, the recipients. */
export function redactConfig(secrets: ChannelSecrets): RedactedConfig {
  switch (secrets.type) {
    case 'webhook':
    case 'slack':
    case 'discord':
      return { origin: new URL(secrets.url).origin };
    case 'pagerduty':
      return { routingKey: `…${secrets.routingKey.slice(-4)}` };
    case 'email':
      return { to: secrets.to };
  }
}

/** Reads sealed secrets back, checking their shape. */
export function parseChannelSecrets(json: string): ChannelSecrets | null {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return null;
  }
  if (!isRecord(v)) return null;
  const s = (x: unknown): x is string => typeof x === 'string' && x !== '';
  switch (v.type) {
    case 'webhook':
      return s(v.url) && s(v.signingSecret) ? { type: 'webhook', url: v.url, signingSecret: v.signingSecret } : null;
    case 'slack':
    case 'discord':
      return s(v.url) ? { type: v.type, url: v.url } : null;
    case 'pagerduty':
      return s(v.routingKey) ? { type: 'pagerduty', routingKey: v.routingKey } : null;
    case 'email':
      return Array.isArray(v.to) && v.to.every(s) ? { type: 'email', to: v.to.filter(s) } : null;
    default:
      return null;
  }
}

export const invalid = (field: string, message: string, code = 'invalid_request'): BadRequestError =>
  new BadRequestError(code, `Invalid request: ${field}: ${message}`, { fields: [{ field, message }] });
