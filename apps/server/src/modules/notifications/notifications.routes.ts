import {
  CreatedNotificationChannel,
  CreateNotificationChannelRequest,
  NotificationChannel,
  NotificationChannelIdParams,
  NotificationChannelList,
  NotificationTestResult,
  UpdateNotificationChannelRequest,
} from '@niro/protocol';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { auditActor, requirePrincipal, SIGNED_IN } from '../auth/principal.js';
import type { RequestContext } from '../clusters/enrollment.service.js';
import type { AccessScope } from '../orgs/access.js';

const NO_CONTENT = { 204: Type.Null({ description: 'No content' }) };

/** Notification channels (DESIGN 4.3): admins of the org write and test, its members read. */
export function registerNotificationRoutes(app: App, services: Services): void {
  const { notifications } = services;

  async function caller(req: FastifyRequest): Promise<{ scope: AccessScope; ctx: RequestContext }> {
    const principal = requirePrincipal(req);
    const scope = await services.orgs.scopeFor(principal.userId);
    return { scope, ctx: { actor: auditActor(principal), ip: req.ip } };
  }

  app.get(
    '/api/v1/notification-channels',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Notification channels of the organizations you belong to, with their delivery status',
        security: SIGNED_IN,
        response: { 200: NotificationChannelList },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return notifications.list(scope);
    },
  );

  app.post(
    '/api/v1/notification-channels',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Create a notification channel: webhook, slack, discord, pagerduty or email',
        description:
          'Needs the admin role. config takes url (webhook, slack, discord; https:// or http://), routingKey ' +
          '(pagerduty) or to (email; needs NIRO_SMTP_URL on the server). A webhook reply carries signingSecret ' +
          '(whsec_…) this once; it is never shown again. Incidents of minSeverity or above notify; filters ' +
          'narrow to cluster environments and labels.',
        security: SIGNED_IN,
        body: CreateNotificationChannelRequest,
        response: { 201: CreatedNotificationChannel },
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      const created = await notifications.create(scope, req.body, ctx);
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );

  app.get(
    '/api/v1/notification-channels/:id',
    {
      schema: {
        tags: ['notifications'],
        summary: 'One notification channel, with its delivery status (last error, next attempt)',
        security: SIGNED_IN,
        params: NotificationChannelIdParams,
        response: { 200: NotificationChannel },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return notifications.get(scope, req.params.id);
    },
  );

  app.patch(
    '/api/v1/notification-channels/:id',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Change a channel’s name, minimum severity, filters or config',
        description:
          'Needs the admin role. A new config replaces the old one whole (the type stays); a webhook keeps its ' +
          'signing secret.',
        security: SIGNED_IN,
        params: NotificationChannelIdParams,
        body: UpdateNotificationChannelRequest,
        response: { 200: NotificationChannel },
      },
    },
    async (req) => {
      const { scope, ctx } = await caller(req);
      return notifications.update(scope, req.params.id, req.body, ctx);
    },
  );

  app.delete(
    '/api/v1/notification-channels/:id',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Delete a channel and what waits for it in the outbox',
        description: 'Needs the admin role; recorded in the audit log.',
        security: SIGNED_IN,
        params: NotificationChannelIdParams,
        response: NO_CONTENT,
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      await notifications.delete(scope, req.params.id, ctx);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/notification-channels/:id/test',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Send a test notification now and report what the receiver answered',
        description:
          'Needs the admin role. Not queued: the reply says delivered, or the receiver’s error. PagerDuty gets a ' +
          'trigger resolved at once.',
        security: SIGNED_IN,
        params: NotificationChannelIdParams,
        response: { 200: NotificationTestResult },
      },
    },
    async (req) => {
      const { scope, ctx } = await caller(req);
      return notifications.test(scope, req.params.id, ctx);
    },
  );
}
