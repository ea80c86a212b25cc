import type { ChannelSecrets } from '../channel-config.js';
import type { Delivery, IncidentSeverity } from '../notification-events.js';
import { postJson } from './http-post.js';
import { clusterLabel, headline, incidentUrl, type Sender } from './sender.js';

type PagerDutyConfig = Extract<ChannelSecrets, { type: 'pagerduty' }>;

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

const PD_SEVERITY: Record<IncidentSeverity, 'critical' | 'error' | 'warning' | 'info'> = {
  high: 'critical',
  medium: 'error',
  low: 'warning',
  info: 'info',
};

/**
 * PagerDuty Events API v2: `trigger` when an incident opens, `resolve` when it resolves, with the
 * incident's fingerprint as `dedup_key` so both land on the same PagerDuty alert (and a repeated
 * trigger is merged by PagerDuty). A test sends a trigger and resolves it at once.
 */
export class PagerDutySender implements Sender<PagerDutyConfig> {
  constructor(
    private readonly publicUrl: string,
    /** Only tests point this elsewhere (a server option); API users cannot. */
    private readonly eventsUrl: string = PAGERDUTY_EVENTS_URL,
  ) {}

  async send(config: PagerDutyConfig, delivery: Delivery): Promise<void> {
    const { event } = delivery;
    const { incident } = event;
    const dedupKey = incident.fingerprint;
    if (event.kind === 'incident.opened') {
      const url = incidentUrl(this.publicUrl, event);
      await this.post({
        routing_key: config.routingKey,
        event_action: 'trigger',
        dedup_key: dedupKey,
        payload: {
          summary: headline(delivery).slice(0, 1024),
          source: clusterLabel(event).slice(0, 255),
          severity: PD_SEVERITY[incident.severity],
          timestamp: incident.openedAt,
          component: incident.type,
          ...(incident.environment === null ? {} : { group: incident.environment }),
          class: incident.type,
          custom_details: {
            incidentId: incident.id,
            clusterId: incident.clusterId,
            severity: incident.severity,
            ...(incident.summary === undefined ? {} : { summary: incident.summary }),
          },
        },
        links: [{ href: url, text: 'View incident in Niro' }],
      });
    }
    if (event.kind === 'incident.resolved' || delivery.test === true) {
      await this.post({ routing_key: config.routingKey, event_action: 'resolve', dedup_key: dedupKey });
    }
  }

  private async post(body: Record<string, unknown>): Promise<void> {
    await postJson(this.eventsUrl, JSON.stringify(body));
  }
}
