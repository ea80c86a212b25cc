import {
  AckIncidentRequest,
  IncidentDetail,
  IncidentIdParams,
  IncidentPage,
  IncidentSettings,
  IncidentsQuery,
  OrgIdParams,
  UpdateIncidentSettingsRequest,
} from '@niro/protocol';
import { Type } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { requireCaller, requirePrincipal, SIGNED_IN } from '../auth/principal.js';

const TAGS = ['incidents'];

export function registerIncidentRoutes(app: App, services: Services): void {
  const { incidents, orgs } = services;

  app.get(
    '/api/v1/incidents',
    {
      schema: {
        tags: TAGS,
        summary: 'Incidents of the clusters you can see, newest first',
        security: SIGNED_IN,
        querystring: IncidentsQuery,
        response: { 200: IncidentPage },
      },
    },
    async (req) => incidents.list(await orgs.scopeFor(requirePrincipal(req).userId), req.query),
  );

  app.get(
    '/api/v1/incidents/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'One incident with its timeline and evidence bundle',
        security: SIGNED_IN,
        params: IncidentIdParams,
        response: { 200: IncidentDetail },
      },
    },
    async (req) => incidents.get(await orgs.scopeFor(requirePrincipal(req).userId), req.params.id),
  );

  app.post(
    '/api/v1/incidents/:id/ack',
    {
      schema: {
        tags: TAGS,
        summary: 'Acknowledge a firing incident (member)',
        description: 'It stays open and still resolves by itself; 409 incident_resolved when it already resolved.',
        security: SIGNED_IN,
        params: IncidentIdParams,
        body: AckIncidentRequest,
        response: { 200: IncidentDetail },
      },
      // The body is optional: `POST …/ack` without one acknowledges without a note.
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      return incidents.acknowledge(await orgs.scopeFor(caller.principal.userId), caller, req.params.id, req.body.note);
    },
  );

  app.delete(
    '/api/v1/incidents/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Delete a resolved incident (member); 409 incident_open while it is open',
        security: SIGNED_IN,
        params: IncidentIdParams,
        response: { 204: Type.Null({ description: 'No content' }) },
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      await incidents.delete(await orgs.scopeFor(caller.principal.userId), caller, req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/orgs/:id/incident-settings',
    {
      schema: {
        tags: TAGS,
        summary: 'The incident detection thresholds of an organization',
        security: SIGNED_IN,
        params: OrgIdParams,
        response: { 200: IncidentSettings },
      },
    },
    async (req) => incidents.getSettings(await orgs.scopeFor(requirePrincipal(req).userId), req.params.id),
  );

  app.put(
    '/api/v1/orgs/:id/incident-settings',
    {
      schema: {
        tags: TAGS,
        summary: 'Replace the incident detection thresholds of an organization (admin)',
        description: 'Fields left out go back to their defaults (DESIGN 4.2).',
        security: SIGNED_IN,
        params: OrgIdParams,
        body: UpdateIncidentSettingsRequest,
        response: { 200: IncidentSettings },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      return incidents.putSettings(await orgs.scopeFor(caller.principal.userId), caller, req.params.id, req.body);
    },
  );
}
