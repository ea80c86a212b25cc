import { CreateRegistryRequest, Registry, RegistryIdParams, RegistryList } from '@niro/protocol';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { auditActor, requirePrincipal, SIGNED_IN } from '../auth/principal.js';
import type { RequestContext } from '../clusters/enrollment.service.js';
import type { AccessScope } from '../orgs/access.js';

const NO_CONTENT = { 204: Type.Null({ description: 'No content' }) };

/** Registry pull credentials (DESIGN 4.5): members add, re-verify and delete; everyone in the org lists. */
export function registerRegistryRoutes(app: App, services: Services): void {
  const { registries } = services;

  async function caller(req: FastifyRequest): Promise<{ scope: AccessScope; ctx: RequestContext }> {
    const principal = requirePrincipal(req);
    const scope = await services.orgs.scopeFor(principal.userId);
    return { scope, ctx: { actor: auditActor(principal), ip: req.ip } };
  }

  app.get(
    '/api/v1/registries',
    {
      schema: {
        tags: ['registries'],
        summary: 'Registry credentials of the organizations you belong to (never the password)',
        security: SIGNED_IN,
        response: { 200: RegistryList },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return registries.list(scope);
    },
  );

  app.post(
    '/api/v1/registries',
    {
      schema: {
        tags: ['registries'],
        summary: 'Add a registry credential after checking it against the registry’s /v2/ endpoint',
        description:
          'Needs the member role. The server logs in to https://<server>/v2/ (Basic or Bearer-token flow) before ' +
          'saving; a credential the registry rejects is a 422 registry_auth_failed, a registry that cannot be ' +
          'checked a 422 registry_unreachable, both with details.reason. The password is stored encrypted and ' +
          'never returned.',
        security: SIGNED_IN,
        body: CreateRegistryRequest,
        response: { 201: Registry },
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      const created = await registries.create(scope, req.body, ctx);
      return reply.code(201).send(created);
    },
  );

  app.post(
    '/api/v1/registries/:id/verify',
    {
      schema: {
        tags: ['registries'],
        summary: 'Check the stored credential against the registry again',
        description:
          'Needs the member role. Success updates lastVerifiedAt (and re-encrypts the credential with the current ' +
          'NIRO_SECRET_KEY after a rotation); failure is a 422 like on creation.',
        security: SIGNED_IN,
        params: RegistryIdParams,
        response: { 200: Registry },
      },
    },
    async (req) => {
      const { scope, ctx } = await caller(req);
      return registries.verify(scope, req.params.id, ctx);
    },
  );

  app.delete(
    '/api/v1/registries/:id',
    {
      schema: {
        tags: ['registries'],
        summary: 'Delete a registry credential',
        description: 'Needs the member role; recorded in the audit log.',
        security: SIGNED_IN,
        params: RegistryIdParams,
        response: NO_CONTENT,
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      await registries.delete(scope, req.params.id, ctx);
      return reply.code(204).send(null);
    },
  );
}
