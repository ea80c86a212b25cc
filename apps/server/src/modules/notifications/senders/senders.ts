import type { ChannelSecrets } from '../channel-config.js';
import type { Delivery } from '../notification-events.js';
import { DiscordSender } from './discord.sender.js';
import { EmailSender, type SmtpSettings } from './email.sender.js';
import { PagerDutySender } from './pagerduty.sender.js';
import { SlackSender } from './slack.sender.js';
import { WebhookSender } from './webhook.sender.js';

export type SenderOptions = {
  publicUrl: string;
  smtp: SmtpSettings | null;
  /** Tests only: where PagerDuty events go instead of events.pagerduty.com. */
  pagerDutyEventsUrl?: string;
};

/** One sender per channel type. */
export class Senders {
  private readonly webhook: WebhookSender;
  private readonly slack: SlackSender;
  private readonly discord: DiscordSender;
  private readonly pagerduty: PagerDutySender;
  private readonly email: EmailSender;

  constructor(options: SenderOptions) {
    this.webhook = new WebhookSender(options.publicUrl);
    this.slack = new SlackSender(options.publicUrl);
    this.discord = new DiscordSender(options.publicUrl);
    this.pagerduty = new PagerDutySender(options.publicUrl, options.pagerDutyEventsUrl);
    this.email = new EmailSender(options.publicUrl, options.smtp);
  }

  send(config: ChannelSecrets, delivery: Delivery, attemptAtMs: number): Promise<void> {
    switch (config.type) {
      case 'webhook':
        return this.webhook.send(config, delivery, attemptAtMs);
      case 'slack':
        return this.slack.send(config, delivery);
      case 'discord':
        return this.discord.send(config, delivery);
      case 'pagerduty':
        return this.pagerduty.send(config, delivery);
      case 'email':
        return this.email.send(config, delivery);
    }
  }
}
