import {
  EvaluatePolicyRequest,
  EvaluatePolicyResponse,
  FindingPage,
  FindingsQuery,
  POLICY_EVALUATE_MAX_BYTES,
  PolicyRuleList,
} from '@niro/protocol';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { requirePrincipal, SIGNED_IN } from '../auth/principal.js';

/**
 * Room for JSON escaping around a `yaml` of POLICY_EVALUATE_MAX_BYTES; the service refuses a
 * longer `yaml` with 413 itself, a longer body gets Fastify's 413.
 */
const EVALUATE_BODY_LIMIT_BYTES = 2 * POLICY_EVALUATE_MAX_BYTES;

export function registerPolicyRoutes(app: App, services: Services): void {
  const { policy, findings } = services;

  app.get(
    '/api/v1/policy/rules',
    {
      schema: {
        tags: ['policy'],
        summary: 'The policy rule catalogue, with each rule’s severity per environment',
        security: SIGNED_IN,
        response: { 200: PolicyRuleList },
      },
    },
    async (req) => {
      requirePrincipal(req);
      return { items: policy.rules };
    },
  );

  app.post(
    '/api/v1/policy/evaluate',
    {
      bodyLimit: EVALUATE_BODY_LIMIT_BYTES,
      // A caller who is not signed in never gets a multi-MB body read.
      onRequest: async (req) => {
        requirePrincipal(req);
      },
      schema: {
        tags: ['policy'],
        summary: 'Evaluate manifests against the policy rules (nothing is stored)',
        description:
          'environment defaults to unspecified. Documents that cannot be read come back in errors, ' +
          'beside the findings of the others (200). A yaml above 2 MiB is refused with 413.',
        security: SIGNED_IN,
        body: EvaluatePolicyRequest,
        response: { 200: EvaluatePolicyResponse },
      },
    },
    async (req) => policy.evaluate(req.body),
  );

  app.get(
    '/api/v1/findings',
    {
      schema: {
        tags: ['policy'],
        summary: 'Runtime findings of the clusters you can see, most severe first',
        security: SIGNED_IN,
        querystring: FindingsQuery,
        response: { 200: FindingPage },
      },
    },
    async (req) => {
      const scope = await services.orgs.scopeFor(requirePrincipal(req).userId);
      return findings.list(scope, req.query);
    },
  );
}
