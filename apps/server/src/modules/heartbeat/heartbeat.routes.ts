import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Heartbeat, HeartbeatReply } from '@niro/protocol';
import type { FastifyBodyParser, FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../../errors.js';
import type { App } from '../../lib/http.js';
import { isRecord } from '../../lib/validation.js';
import type { Services } from '../../services.js';
import type { AgentIdentity } from './heartbeat.service.js';
import { HEARTBEAT_PATH } from './heartbeat.validator.js';

/** A full inventory of a large cluster is a few MB; 16 MiB leaves room and bounds a request. */
export const HEARTBEAT_BODY_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * Agent protocol 3.2. The agent is authenticated by its key before the body is read, so an
 * unauthenticated client never gets a 16 MiB body parsed. The route lives in its own plugin
 * scope for its JSON parser (below).
 */
export function registerHeartbeatRoutes(app: App, services: Services): void {
  const { heartbeat, metrics } = services;
  const agents = new WeakMap<FastifyRequest, AgentIdentity>();
  void app.register(async (instance) => {
    const scope: App = instance.withTypeProvider<TypeBoxTypeProvider>();
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, fastJsonParser(scope));
    scope.post(
      HEARTBEAT_PATH,
      {
        bodyLimit: HEARTBEAT_BODY_LIMIT_BYTES,
        // Tens of heartbeats a second would drown the log; rejections are counted in metrics.
        logLevel: 'warn',
        schema: {
          tags: ['agent'],
          summary: 'Report the cluster state (inventory full, delta or same) and liveness',
          description:
            'Authorization: Bearer niro_ak_… (the agent key). The body may be gzipped (Content-Encoding: gzip). ' +
            'The reply carries resendFull when the server does not hold the inventory the heartbeat refers to.',
          security: [{ bearer: [] }],
          body: Heartbeat,
          response: { 200: HeartbeatReply },
        },
        validatorCompiler: () => heartbeat.validate,
        onRequest: async (req) => {
          const length = Number(req.headers['content-length']);
          if (Number.isFinite(length) && length > 0) metrics.heartbeatBytes.inc(length);
          agents.set(req, await heartbeat.authenticate(req.headers.authorization));
        },
        onSend: async (_req, reply, payload) => {
          if (reply.statusCode >= 400) metrics.heartbeatsRejected.labels(errorCodeOf(payload)).inc();
          return payload;
        },
      },
      async (req) => {
        const agent = agents.get(req);
        if (agent === undefined) throw new UnauthorizedError('invalid_agent_key', 'The agent key is missing');
        return heartbeat.ingest(agent, req.body);
      },
    );
  });
}

/**
 * Fastify's JSON parser scans every body for prototype-poisoning keys with two regular
 * expressions, a third of the parse time of a 1.5 MB heartbeat. A plain substring search finds
 * the same candidates (and escaped keys, via `\u`) far faster; only bodies that contain one go
 * through the careful parser, which rejects poisoned ones as before.
 */
function fastJsonParser(scope: App): FastifyBodyParser<string> {
  const careful = scope.getDefaultJsonParser('error', 'error');
  return (req, body, done) => {
    if (body === '' || body.includes('__proto__') || body.includes('constructor') || body.includes('\\u')) {
      careful(req, body, done);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (err) {
      done(err instanceof Error ? err : new SyntaxError(String(err)), undefined);
      return;
    }
    done(null, value);
  };
}

/** The error code of a rejection reply, for the rejects metric. */
function errorCodeOf(payload: unknown): string {
  if (typeof payload !== 'string') return 'unknown';
  try {
    const body: unknown = JSON.parse(payload);
    if (isRecord(body) && isRecord(body.error) && typeof body.error.code === 'string') return body.error.code;
  } catch {
    // Not JSON: fall through.
  }
  return 'unknown';
}
