import type { ChannelSecrets } from '../channel-config.js';
import type { Delivery, IncidentEvent } from '../notification-events.js';

/** Sends one event to one kind of receiver; throws DeliveryError when the receiver did not take it. */
export interface Sender<T extends ChannelSecrets = ChannelSecrets> {
  send(config: T, delivery: Delivery, attemptAtMs: number): Promise<void>;
}

/** Where an incident is seen in the dashboard. */
export const incidentUrl = (publicUrl: string, event: IncidentEvent): string =>
  `${publicUrl}/incidents/${encodeURIComponent(event.incident.id)}`;

export const headline = (delivery: Delivery): string => {
  const { kind, incident } = delivery.event;
  if (delivery.test === true) return `Test notification: ${incident.title}`;
  return `${kind === 'incident.opened' ? 'Incident opened' : 'Incident resolved'}: ${incident.title}`;
};

export const clusterLabel = (event: IncidentEvent): string =>
  event.incident.clusterName ?? (event.incident.clusterId === null ? 'whole fleet' : event.incident.clusterId);
