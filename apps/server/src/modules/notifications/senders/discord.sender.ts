import type { ChannelSecrets } from '../channel-config.js';
import type { Delivery } from '../notification-events.js';
import { postJson } from './http-post.js';
import { clusterLabel, headline, incidentUrl, type Sender } from './sender.js';

type DiscordConfig = Extract<ChannelSecrets, { type: 'discord' }>;

const COLOR = { info: 0x5865f2, low: 0xfee75c, medium: 0xe67e22, high: 0xed4245 };
const RESOLVED_COLOR = 0x57f287;

/** A Discord webhook: one embed with severity, cluster, title and a link; mentions disabled. */
export class DiscordSender implements Sender<DiscordConfig> {
  constructor(private readonly publicUrl: string) {}

  async send(config: DiscordConfig, delivery: Delivery): Promise<void> {
    const { event } = delivery;
    const { incident } = event;
    const resolved = event.kind === 'incident.resolved';
    const body = {
      allowed_mentions: { parse: [] },
      embeds: [
        {
          title: headline(delivery).slice(0, 256),
          url: incidentUrl(this.publicUrl, event),
          description: (incident.summary ?? incident.title).slice(0, 4000),
          color: resolved ? RESOLVED_COLOR : COLOR[incident.severity],
          timestamp: resolved && incident.resolvedAt !== null ? incident.resolvedAt : incident.openedAt,
          fields: [
            { name: 'Severity', value: incident.severity, inline: true },
            { name: 'Cluster', value: clusterLabel(event).slice(0, 1024), inline: true },
            { name: 'Type', value: incident.type.slice(0, 1024), inline: true },
          ],
        },
      ],
    };
    await postJson(config.url, JSON.stringify(body));
  }
}
