import type { ChannelSecrets } from '../channel-config.js';
import type { Delivery } from '../notification-events.js';
import { postJson } from './http-post.js';
import { clusterLabel, headline, incidentUrl, type Sender } from './sender.js';

type SlackConfig = Extract<ChannelSecrets, { type: 'slack' }>;

const EMOJI = {
  info: ':information_source:',
  low: ':large_yellow_circle:',
  medium: ':large_orange_circle:',
  high: ':red_circle:',
};

/** Slack's mrkdwn treats these three as control characters. */
const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A Slack incoming webhook: a fallback `text` plus blocks with severity, cluster, title and a link. */
export class SlackSender implements Sender<SlackConfig> {
  constructor(private readonly publicUrl: string) {}

  async send(config: SlackConfig, delivery: Delivery): Promise<void> {
    const { event } = delivery;
    const { incident } = event;
    const resolved = event.kind === 'incident.resolved';
    const url = incidentUrl(this.publicUrl, event);
    const icon = resolved ? ':white_check_mark:' : EMOJI[incident.severity];
    const title = `${icon} ${escape(headline(delivery))}`;
    const fields = [
      `*Severity:* ${incident.severity}`,
      `*Cluster:* ${escape(clusterLabel(event))}`,
      `*Type:* ${escape(incident.type)}`,
      ...(incident.environment === null ? [] : [`*Environment:* ${incident.environment}`]),
    ];
    const body = {
      text: `${title} (${incident.severity}, ${escape(clusterLabel(event))}) <${url}|View incident>`,
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: `*${title}*` } },
        { type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn', text })) },
        ...(incident.summary === undefined
          ? []
          : [{ type: 'section', text: { type: 'mrkdwn', text: escape(incident.summary).slice(0, 2900) } }]),
        { type: 'section', text: { type: 'mrkdwn', text: `<${url}|View incident in Niro>` } },
      ],
    };
    await postJson(config.url, JSON.stringify(body));
  }
}
