import { createHmac } from 'node:crypto';
import { signingKeyOf, type ChannelSecrets } from '../channel-config.js';
import type { Delivery } from '../notification-events.js';
import { postJson } from './http-post.js';
import { incidentUrl, type Sender } from './sender.js';

type WebhookConfig = Extract<ChannelSecrets, { type: 'webhook' }>;

/** The Standard Webhooks `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', signingKeyOf(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/**
 * A webhook signed per Standard Webhooks. The body is `{type, timestamp, data}`; `webhook-id` is
 * the event id, the same on every attempt so the receiver can drop duplicates, and the timestamp
 * is the attempt's, so a receiver's replay window holds for retries too.
 */
export class WebhookSender implements Sender<WebhookConfig> {
  constructor(private readonly publicUrl: string) {}

  async send(config: WebhookConfig, delivery: Delivery, attemptAtMs: number): Promise<void> {
    const body = JSON.stringify({
      type: delivery.test === true ? 'test' : delivery.event.kind,
      timestamp: new Date(delivery.enqueuedAt).toISOString(),
      data: { ...delivery.event.incident, url: incidentUrl(this.publicUrl, delivery.event) },
    });
    const timestamp = Math.floor(attemptAtMs / 1000);
    await postJson(config.url, body, {
      'webhook-id': delivery.eventId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(config.signingSecret, delivery.eventId, timestamp, body),
    });
  }
}
