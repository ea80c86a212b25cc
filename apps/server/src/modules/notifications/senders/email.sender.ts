import nodemailer, { type Transporter } from 'nodemailer';
import type { ChannelSecrets } from '../channel-config.js';
import type { Delivery } from '../notification-events.js';
import { DeliveryError, SEND_TIMEOUT_MS } from './http-post.js';
import { clusterLabel, headline, incidentUrl, type Sender } from './sender.js';

type EmailConfig = Extract<ChannelSecrets, { type: 'email' }>;

export type SmtpSettings = { url: string; from: string };

/**
 * Email over SMTP (nodemailer), from NIRO_SMTP_URL / NIRO_SMTP_FROM. SMTP has no idempotency, so
 * the Message-ID is derived from the event id: a mail client shows a retried message once.
 */
export class EmailSender implements Sender<EmailConfig> {
  private transport: Transporter | null = null;

  constructor(
    private readonly publicUrl: string,
    private readonly smtp: SmtpSettings | null,
  ) {}

  async send(config: EmailConfig, delivery: Delivery): Promise<void> {
    if (this.smtp === null) throw new DeliveryError('email is not configured on this server (NIRO_SMTP_URL)');
    const { event } = delivery;
    const { incident } = event;
    const url = incidentUrl(this.publicUrl, event);
    const lines = [
      headline(delivery),
      '',
      `Severity:    ${incident.severity}`,
      `Cluster:     ${clusterLabel(event)}`,
      `Type:        ${incident.type}`,
      ...(incident.environment === null ? [] : [`Environment: ${incident.environment}`]),
      `Opened at:   ${incident.openedAt}`,
      ...(incident.resolvedAt === null ? [] : [`Resolved at: ${incident.resolvedAt}`]),
      ...(incident.summary === undefined ? [] : ['', incident.summary]),
      '',
      `View the incident: ${url}`,
    ];
    try {
      await this.transporter(this.smtp).sendMail({
        from: this.smtp.from,
        to: config.to,
        subject: `[Niro ${incident.severity}] ${headline(delivery)}`.slice(0, 200),
        text: lines.join('\n'),
        messageId: `<${delivery.eventId}@niro>`,
        headers: { 'X-Niro-Event-Id': delivery.eventId },
      });
    } catch (err) {
      throw new DeliveryError(`SMTP: ${smtpMessage(err)}`, { cause: err });
    }
  }

  private transporter(smtp: SmtpSettings): Transporter {
    this.transport ??= nodemailer.createTransport(smtp.url, {
      connectionTimeout: SEND_TIMEOUT_MS,
      greetingTimeout: SEND_TIMEOUT_MS,
      socketTimeout: SEND_TIMEOUT_MS,
      logger: false,
    });
    return this.transport;
  }
}

function smtpMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    if ('response' in err && typeof err.response === 'string') return err.response.slice(0, 300);
    if ('code' in err && typeof err.code === 'string') {
      return err.code === 'ECONNECTION' && err instanceof Error ? err.message.slice(0, 300) : err.code;
    }
  }
  return err instanceof Error ? err.message.slice(0, 300) : 'sending failed';
}
