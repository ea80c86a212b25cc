import { FleetResponse, ImageList, ImagesQuery, PodPage, PodsQuery } from '@niro/protocol';
import { Type } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { requirePrincipal, SIGNED_IN } from '../auth/principal.js';

/** The FleetResponse schema for the docs; the handler sends it already serialized, as a string. */
const SerializedFleetResponse = Type.Unsafe<string>(FleetResponse);
/** No body: an undefined payload skips serialization, so nothing (not even `null`) is sent. */
const NotModified = Type.Unsafe<undefined>({ description: 'Not modified: the fleet matches If-None-Match' });

export function registerFleetRoutes(app: App, services: Services): void {
  app.get(
    '/api/v1/fleet',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Summary of every cluster you can see, with totals (ETag; send If-None-Match for a 304)',
        security: SIGNED_IN,
        response: { 200: SerializedFleetResponse, 304: NotModified },
      },
    },
    async (req, reply) => {
      const scope = await services.orgs.scopeFor(requirePrincipal(req).userId);
      const { body, etag } = await services.fleet.fleet(scope);
      // The body depends on who asks: shared caches must not keep it, the browser must revalidate.
      reply.header('etag', etag).header('cache-control', 'private, no-cache').header('vary', 'authorization, cookie');
      if (etagMatches(req.headers['if-none-match'], etag)) return reply.code(304).send(undefined);
      // Already serialized (the ETag is computed from these bytes), so it is sent as is.
      return reply.type('application/json; charset=utf-8').send(body);
    },
  );

  app.get(
    '/api/v1/pods',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Pods across every cluster you can see (keyset pagination with cursor)',
        security: SIGNED_IN,
        querystring: PodsQuery,
        response: { 200: PodPage },
      },
    },
    async (req) => {
      const scope = await services.orgs.scopeFor(requirePrincipal(req).userId);
      return services.fleet.pods(scope, req.query);
    },
  );

  app.get(
    '/api/v1/images',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Which clusters run an image, with pod counts',
        security: SIGNED_IN,
        querystring: ImagesQuery,
        response: { 200: ImageList },
      },
    },
    async (req) => {
      const scope = await services.orgs.scopeFor(requirePrincipal(req).userId);
      return services.fleet.images(scope, req.query);
    },
  );
}

/** If-None-Match uses the weak comparison (RFC 9110 13.1.2): `W/` prefixes are ignored. */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}
