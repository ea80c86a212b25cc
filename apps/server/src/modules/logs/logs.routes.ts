import type { ServerResponse } from 'node:http';
import { LOG_LIMITS, LogAckMessage, type LogEndMessage, type LogEndReason, type LogMessage } from '@niro/protocol';
import { Type } from 'typebox';
import { BadRequestError } from '../../errors.js';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { auditActor, requirePrincipal, SIGNED_IN } from '../auth/principal.js';
import type { LogSink } from './logs.service.js';
import { agentAuthentication } from '../commands/agent-auth.js';

export const AGENT_LOGS_PATH = '/api/agent/v1/logs';

/** Kubernetes names: a namespace or container is a DNS label, a pod name a DNS subdomain. */
const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const LogsParams = Type.Object({
  id: Type.String({ maxLength: 64 }),
  namespace: Type.String({ minLength: 1, maxLength: 63, pattern: DNS_LABEL, description: 'A Kubernetes namespace' }),
  pod: Type.String({ minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN, description: 'A pod name' }),
});

const LogsQuery = Type.Object({
  container: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 63,
      pattern: DNS_LABEL,
      description: 'The container; needed when the pod has several',
    }),
  ),
  follow: Type.Optional(
    Type.Union([Type.Literal('1'), Type.Literal('0'), Type.Literal('true'), Type.Literal('false')], {
      description: 'Keep streaming new lines until the reader closes the stream',
    }),
  ),
  tailLines: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: LOG_LIMITS.maxTailLines,
      description: `Lines from the end of the log to start with (default ${LOG_LIMITS.defaultTailLines})`,
    }),
  ),
});

const StreamIdParams = Type.Object({ streamId: Type.String({ minLength: 1, maxLength: 128 }) });

/**
 * The long-poll body: a `log` or a `log-end` message (agent protocol). One object schema with the
 * fields of both, so the OpenAPI document shows it; the handler checks which fields the type needs.
 * Unknown fields are accepted and ignored, as everywhere in the agent protocol.
 */
const LogPostBody = Type.Object({
  type: Type.Union([Type.Literal('log'), Type.Literal('log-end')]),
  streamId: Type.String({ minLength: 1, maxLength: 128 }),
  seq: Type.Optional(Type.Integer({ minimum: 0, description: 'log: counts from 0 per stream' })),
  lines: Type.Optional(
    Type.Array(Type.String({ maxLength: LOG_LIMITS.lineBytes + 64 }), {
      maxItems: LOG_LIMITS.chunkLines,
      description: 'log: whole lines',
    }),
  ),
  reason: Type.Optional(
    Type.Union([Type.Literal('eof'), Type.Literal('stopped'), Type.Literal('error')], { description: 'log-end' }),
  ),
  message: Type.Optional(Type.String({ maxLength: 4096, description: 'log-end with reason error' })),
});

/** A chunk of `LOG_LIMITS.chunkBytes` of lines, even with every character escaped in JSON. */
const LOG_POST_BODY_BYTES = 8 * LOG_LIMITS.chunkBytes;

const SSE_EVENTS =
  'Server-sent events: `open` {streamId, commandId}; `lines`, a JSON array of log lines, in order; ' +
  '`end` {reason: eof|stopped|error, message?} as the last event; `error` {code, message} as the last ' +
  'event when the stream failed or never started (the agent could not find the pod, the command expired); ' +
  'a `: keep-alive` comment every 15 s.';

/** `GET …/logs` (server-sent events) for people, and the long-poll half of the agent's log messages. */
export function registerLogRoutes(app: App, services: Services): void {
  const { logs, commands } = services;

  app.get(
    '/api/v1/clusters/:id/pods/:namespace/:pod/logs',
    {
      schema: {
        tags: ['logs'],
        summary: 'Stream a pod’s log as server-sent events',
        description:
          'Needs the member role (the stream is a logs command, audited like any other); 409 ' +
          'capability_disabled when the cluster has not reported the logs capability. Errors before the ' +
          `stream starts are JSON. ${SSE_EVENTS} Closing the request stops the stream in the agent.`,
        security: SIGNED_IN,
        params: LogsParams,
        querystring: LogsQuery,
        response: {
          200: {
            description: SSE_EVENTS,
            content: { 'text/event-stream': { schema: Type.String() } },
          },
        },
      },
    },
    async (req, reply) => {
      const principal = requirePrincipal(req);
      const scope = await services.orgs.scopeFor(principal.userId);
      const ctx = { actor: auditActor(principal), ip: req.ip };
      const { follow, container, tailLines } = req.query;
      const stream = await logs.open(
        scope,
        req.params.id,
        {
          namespace: req.params.namespace,
          pod: req.params.pod,
          tailLines: tailLines ?? LOG_LIMITS.defaultTailLines,
          follow: follow === '1' || follow === 'true',
          ...(container === undefined ? {} : { container }),
        },
        ctx,
      );
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      res.flushHeaders();
      const sink = new SseSink(res);
      sink.event('open', { streamId: stream.streamId, commandId: stream.commandId });
      const keepAlive = setInterval(() => sink.comment('keep-alive'), logs.options.keepAliveMs);
      res.once('close', () => {
        clearInterval(keepAlive);
        stream.readerGone();
      });
      stream.attach(sink);
    },
  );

  const { authenticateAgent, agentOf } = agentAuthentication(commands);

  app.post(
    `${AGENT_LOGS_PATH}/:streamId`,
    {
      logLevel: 'warn',
      bodyLimit: LOG_POST_BODY_BYTES,
      onRequest: authenticateAgent,
      schema: {
        tags: ['agent'],
        summary: 'Send a log stream’s lines or its end (fallback for the WebSocket channel)',
        description:
          'Authorization: Bearer niro_ak_…. The body is a log message ({type: "log", streamId, seq, lines}) ' +
          'or a log-end message ({type: "log-end", streamId, reason, message?}) of the stream in the path. ' +
          'A log is answered with its log-ack once the reader took the lines (at most about 30 s; stop: true ' +
          'means nobody reads the stream any more: end it); a log-end with 204.',
        security: [{ bearer: [] }],
        params: StreamIdParams,
        body: LogPostBody,
        response: { 200: LogAckMessage, 204: Type.Null({ description: 'No content' }) },
      },
    },
    async (req, reply) => {
      const agent = agentOf(req);
      const message = toAgentMessage(req.body, req.params.streamId);
      if (message.type === 'log-end') {
        logs.relayEnd(agent, message);
        return reply.code(204).send(null);
      }
      const gone = new AbortController();
      // 'close' before the reply is sent means the agent went away.
      const onClose = (): void => gone.abort();
      reply.raw.once('close', onClose);
      try {
        const ack = await logs.relayLog(agent, message, {
          maxWaitMs: logs.options.longPollWaitMs,
          signal: gone.signal,
        });
        return ack ?? { type: 'log-ack' as const, streamId: message.streamId, seq: message.seq - 1, stop: true };
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  );

  // Open streams would otherwise hold the server's close until their readers leave.
  app.addHook('preClose', async () => {
    logs.close();
  });
}

type LogPostBody = {
  type: 'log' | 'log-end';
  streamId: string;
  seq?: number;
  lines?: string[];
  reason?: LogEndReason;
  message?: string;
};

function toAgentMessage(body: LogPostBody, streamId: string): LogMessage | LogEndMessage {
  if (body.streamId !== streamId) {
    throw invalid('body.streamId', `must be the stream in the path (${streamId})`);
  }
  if (body.type === 'log') {
    if (body.seq === undefined) throw invalid('body.seq', 'is required in a log message');
    if (body.lines === undefined) throw invalid('body.lines', 'is required in a log message');
    return { type: 'log', streamId, seq: body.seq, lines: body.lines };
  }
  if (body.reason === undefined) throw invalid('body.reason', 'is required in a log-end message');
  const end: LogEndMessage = { type: 'log-end', streamId, reason: body.reason };
  if (body.message !== undefined) end.message = body.message;
  return end;
}

function invalid(field: string, message: string): BadRequestError {
  return new BadRequestError('invalid_request', `Invalid request: ${field}: ${message}`, {
    fields: [{ field, message }],
  });
}

/** Server-sent events over a hijacked response: one `event:`/`data:` pair per event, JSON data on one line. */
class SseSink implements LogSink {
  constructor(private readonly res: ServerResponse) {}

  event(name: string, data: unknown): boolean {
    if (this.res.writableEnded || this.res.destroyed) return false;
    return this.res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    this.res.write(`: ${text}\n\n`);
  }

  lines(lines: string[]): boolean {
    return this.event('lines', lines);
  }

  onceDrain(listener: () => void): void {
    this.res.once('drain', listener);
  }

  bufferedBytes(): number {
    return this.res.writableLength;
  }

  end(reason: LogEndReason, message?: string): void {
    this.event('end', message === undefined ? { reason } : { reason, message });
    this.res.end();
  }

  error(code: string, message: string): void {
    this.event('error', { code, message });
    this.res.end();
  }
}
