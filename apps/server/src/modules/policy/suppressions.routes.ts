import {
  CreateSuppressionRequest,
  Suppression,
  SuppressionIdParams,
  SuppressionList,
  SuppressionsQuery,
} from '@niro/protocol';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { auditActor, requirePrincipal, SIGNED_IN } from '../auth/principal.js';
import type { RequestContext } from '../clusters/enrollment.service.js';
import type { AccessScope } from '../orgs/access.js';

const NO_CONTENT = { 204: Type.Null({ description: 'No content' }) };

/** Suppressions of runtime findings (DESIGN 6): members write, viewers read. */
export function registerSuppressionRoutes(app: App, services: Services): void {
  const { suppressions } = services;

  async function caller(req: FastifyRequest): Promise<{ scope: AccessScope; ctx: RequestContext }> {
    const principal = requirePrincipal(req);
    const scope = await services.orgs.scopeFor(principal.userId);
    return { scope, ctx: { actor: auditActor(principal), ip: req.ip } };
  }

  app.get(
    '/api/v1/policy/suppressions',
    {
      schema: {
        tags: ['policy'],
        summary: 'Suppressions of runtime findings in the organizations you can see, oldest first',
        description:
          'With cluster, the suppressions that apply to that cluster: its own and the cluster-less ones of ' +
          'its organization (404 for a cluster you cannot see). Expired suppressions are listed with expired: true.',
        security: SIGNED_IN,
        querystring: SuppressionsQuery,
        response: { 200: SuppressionList },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return suppressions.list(scope, req.query);
    },
  );

  app.post(
    '/api/v1/policy/suppressions',
    {
      schema: {
        tags: ['policy'],
        summary: 'Suppress a rule’s finding on one object, in one cluster or every cluster of an organization',
        description:
          'Needs the member role. GET /findings leaves the covered findings out of state=open at once and lists ' +
          'them under state=suppressed. ruleId must be a rule of GET /policy/rules; object.namespace is "" for ' +
          'cluster-scoped objects. Without clusterId the suppression applies to every cluster of the organization ' +
          '(orgId, needed only when you can write in several). 409 suppression_exists when the same one is live; ' +
          'an expired one is replaced. The reason is recorded in the audit log.',
        security: SIGNED_IN,
        body: CreateSuppressionRequest,
        response: { 201: Suppression },
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      return reply.code(201).send(await suppressions.create(scope, req.body, ctx));
    },
  );

  app.delete(
    '/api/v1/policy/suppressions/:id',
    {
      schema: {
        tags: ['policy'],
        summary: 'Delete a suppression: its findings are listed as open again',
        description: 'Needs the member role; recorded in the audit log.',
        security: SIGNED_IN,
        params: SuppressionIdParams,
        response: NO_CONTENT,
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      await suppressions.delete(scope, req.params.id, ctx);
      return reply.code(204).send(null);
    },
  );
}
