import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyError } from 'fastify';
import { NiroError, TooManyRequestsError } from './errors.js';
import { decodeRequestBody } from './lib/gzip.js';
import type { App } from './lib/http.js';
import { RequestValidationError, createValidatorCompiler } from './lib/validation.js';
import { registerAuditRoutes } from './modules/audit/audit.routes.js';
import { registerAuthentication } from './modules/auth/auth.plugin.js';
import { registerAuthRoutes } from './modules/auth/auth.routes.js';
import { registerClusterRoutes } from './modules/clusters/clusters.routes.js';
import { registerCommandRoutes } from './modules/commands/commands.routes.js';
import { registerAgentGateway } from './modules/gateway/gateway.routes.js';
import { registerFleetRoutes } from './modules/fleet/fleet.routes.js';
import { registerHeartbeatRoutes } from './modules/heartbeat/heartbeat.routes.js';
import { registerInstallRoutes } from './modules/install/install.routes.js';
import { registerLogRoutes } from './modules/logs/logs.routes.js';
import { registerOpsRoutes } from './modules/ops/ops.routes.js';
import { registerOrgRoutes } from './modules/orgs/orgs.routes.js';
import { registerInvitationRoutes } from './modules/invitations/invitations.routes.js';
import { registerPolicyRoutes } from './modules/policy/policy.routes.js';
import { registerSuppressionRoutes } from './modules/policy/suppressions.routes.js';
import { registerNotificationRoutes } from './modules/notifications/notifications.routes.js';
import { registerIncidentRoutes } from './modules/incidents/incidents.routes.js';
import { registerUsageRoutes } from './modules/usage/usage.routes.js';
import { registerRegistryRoutes } from './modules/registries/registries.routes.js';
import { registerWebRoutes } from './modules/web/web.routes.js';
import { registerDeploymentRoutes } from './modules/deployments/deployments.routes.js';
import type { Services } from './services.js';

export type { App };

/** Default body limit for API requests; the heartbeat route sets its own. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Builds the HTTP app from ready services. Never listens: main.ts does that, tests use
 * `app.inject()`.
 */
export async function buildApp(services: Services): Promise<App> {
  const app = Fastify({
    loggerInstance: services.logger as FastifyBaseLogger,
    bodyLimit: DEFAULT_BODY_LIMIT_BYTES,
    trustProxy: services.config.trustProxy,
    requestIdHeader: false,
    ajv: { customOptions: { strict: false } },
  }).withTypeProvider<TypeBoxTypeProvider>() as App;

  app.setValidatorCompiler(createValidatorCompiler());
  // JSON only: a text/plain body (what a cross-site form can send) is a 415 everywhere.
  app.removeContentTypeParser('text/plain');

  // Gzip request bodies, decoded as a stream under the route's body limit.
  app.addHook('preParsing', async (req, _reply, payload) => {
    const limit = req.routeOptions.bodyLimit ?? DEFAULT_BODY_LIMIT_BYTES;
    return decodeRequestBody(payload, req.headers['content-encoding'], limit);
  });

  app.addHook('onResponse', async (req, reply) => {
    services.metrics.httpDuration
      .labels(req.method, req.routeOptions.url ?? 'unmatched', String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError | NiroError | RequestValidationError, req, reply) => {
    const { status, body } = toErrorReply(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ code: body.error.code, status }, 'request rejected');
    if (err instanceof TooManyRequestsError) reply.header('retry-after', String(err.retryAfterSeconds));
    return reply.code(status).send(body);
  });

  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ error: { code: 'not_found', message: `Route ${req.method} ${req.url.split('?')[0] ?? ''} not found` } }),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Niro API',
        version: '1.0.0',
        description: 'HTTP API v1 and agent protocol v1 of the Niro control plane.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'API token (niro_pat_…) or, for /api/agent, the agent key',
          },
          session: { type: 'apiKey', in: 'cookie', name: 'niro_session' },
        },
      },
    },
    exposeHeadRoutes: false,
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs', staticCSP: true });
  app.get('/api/openapi.json', { schema: { hide: true } }, () => app.swagger());

  registerAuthentication(app, services);
  registerOpsRoutes(app, services);
  registerAuthRoutes(app, services);
  registerOrgRoutes(app, services);
  registerInvitationRoutes(app, services);
  registerAuditRoutes(app, services);
  registerClusterRoutes(app, services);
  registerHeartbeatRoutes(app, services);
  registerFleetRoutes(app, services);
  registerInstallRoutes(app, services);
  registerCommandRoutes(app, services);
  registerLogRoutes(app, services);
  registerPolicyRoutes(app, services);
  registerSuppressionRoutes(app, services);
  registerNotificationRoutes(app, services);
  registerIncidentRoutes(app, services);
  registerUsageRoutes(app, services);
  registerRegistryRoutes(app, services);
  registerDeploymentRoutes(app, services);
  registerAgentGateway(app, services);
  await registerWebRoutes(app, services);

  await app.ready();
  return app;
}

type ErrorReply = { status: number; body: { error: { code: string; message: string; details?: unknown } } };

/** The one place errors become HTTP replies. */
export function toErrorReply(err: unknown): ErrorReply {
  if (err instanceof NiroError) {
    const error: ErrorReply['body']['error'] = { code: err.code, message: err.message };
    if (err.details !== undefined) error.details = err.details;
    return { status: err.statusCode, body: { error } };
  }
  if (err instanceof RequestValidationError) {
    return {
      status: 400,
      body: { error: { code: err.code, message: `Invalid request: ${err.message}`, details: { fields: err.fields } } },
    };
  }
  const fe = err as Partial<FastifyError> & { message?: string };
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        body: { error: { code: 'body_too_large', message: 'The request body is larger than this endpoint accepts' } },
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        body: { error: { code: 'unsupported_media_type', message: 'Send the request body as application/json' } },
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: 400,
        body: { error: { code: 'invalid_json', message: 'The request body is empty; send a JSON document' } },
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return {
        status: 400,
        body: { error: { code: 'invalid_body', message: 'The request body does not match its Content-Length' } },
      };
    default:
      break;
  }
  if (err instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return {
      status: 400,
      body: { error: { code: 'invalid_json', message: `The request body is not valid JSON: ${fe.message ?? ''}` } },
    };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: { error: { code: 'bad_request', message: fe.message ?? 'Bad request' } } };
  }
  return {
    status: 500,
    body: { error: { code: 'internal_error', message: 'Something went wrong on the server; the error was logged' } },
  };
}
