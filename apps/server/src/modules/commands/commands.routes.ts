import {
  COMMAND_LIMITS,
  ClusterIdParams,
  Command,
  CommandIdParams,
  CommandList,
  CommandResultBody,
  CommandResultReply,
  CreateCommandRequest,
  ListCommandsQuery,
  LongPollQuery,
  LongPollReply,
} from '@niro/protocol';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { auditActor, requirePrincipal, SIGNED_IN } from '../auth/principal.js';
import type { RequestContext } from '../clusters/enrollment.service.js';
import type { AccessScope } from '../orgs/access.js';
import { agentAuthentication } from './agent-auth.js';

export const AGENT_COMMANDS_PATH = '/api/agent/v1/commands';

/** Room for the JSON around a payload (or result) of the largest allowed size, so that size gets its own 413 code. */
const ENVELOPE_BYTES = 64 * 1024;

const AGENT_SECURITY = [{ bearer: [] }];
const NO_CONTENT = { 204: Type.Null({ description: 'No content' }) };

/** The command API (HTTP API v1) and the long-poll half of the agent's command channel (3.3). */
export function registerCommandRoutes(app: App, services: Services): void {
  const { commands } = services;

  async function caller(req: FastifyRequest): Promise<{ scope: AccessScope; ctx: RequestContext }> {
    const principal = requirePrincipal(req);
    const scope = await services.orgs.scopeFor(principal.userId);
    return { scope, ctx: { actor: auditActor(principal), ip: req.ip } };
  }

  app.post(
    '/api/v1/clusters/:id/commands',
    {
      bodyLimit: COMMAND_LIMITS.payloadBytes + ENVELOPE_BYTES,
      schema: {
        tags: ['commands'],
        summary: 'Queue a command for the cluster’s agent',
        description:
          'Needs the member role. The payload is checked against the kind’s schema; the cluster must have ' +
          'reported the capability the kind needs (409 capability_disabled otherwise). Repeating a request ' +
          'with the same idempotencyKey returns the first command with 200.',
        security: SIGNED_IN,
        params: ClusterIdParams,
        body: CreateCommandRequest,
        response: { 200: Command, 201: Command },
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      const { command, created } = await commands.create(scope, req.params.id, req.body, ctx);
      return reply.code(created ? 201 : 200).send(command);
    },
  );

  app.get(
    '/api/v1/clusters/:id/commands',
    {
      schema: {
        tags: ['commands'],
        summary: 'Commands of a cluster, newest first',
        security: SIGNED_IN,
        params: ClusterIdParams,
        querystring: ListCommandsQuery,
        response: { 200: CommandList },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return commands.list(scope, req.params.id, req.query);
    },
  );

  app.get(
    '/api/v1/commands/:id',
    {
      schema: {
        tags: ['commands'],
        summary: 'One command with its state and result',
        security: SIGNED_IN,
        params: CommandIdParams,
        response: { 200: Command },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return commands.get(scope, req.params.id);
    },
  );

  app.post(
    '/api/v1/commands/:id/cancel',
    {
      schema: {
        tags: ['commands'],
        summary: 'Cancel a queued or delivered command',
        description:
          'Needs the member role. The command is no longer delivered and its result is refused; an agent ' +
          'already running it is not interrupted. 409 command_already_final when it has ended.',
        security: SIGNED_IN,
        params: CommandIdParams,
        response: { 200: Command },
      },
    },
    async (req) => {
      const { scope, ctx } = await caller(req);
      return commands.cancel(scope, req.params.id, ctx);
    },
  );

  const { authenticateAgent, agentOf } = agentAuthentication(commands);

  app.get(
    AGENT_COMMANDS_PATH,
    {
      // One request per agent every 30 s would drown the log.
      logLevel: 'warn',
      onRequest: authenticateAgent,
      schema: {
        tags: ['agent'],
        summary: 'Long-poll for commands (fallback for the WebSocket channel)',
        description:
          'Authorization: Bearer niro_ak_…. Answers the deliverable commands in creation order and marks them ' +
          'delivered; with none, waits up to waitSeconds for one and answers {"commands": []} after the wait. ' +
          'Acknowledge each command on receipt, or it is delivered again after about a minute.',
        security: AGENT_SECURITY,
        querystring: LongPollQuery,
        response: { 200: LongPollReply },
      },
    },
    async (req, reply) => {
      const agent = agentOf(req);
      const gone = new AbortController();
      // 'close' before the reply is sent means the client went away.
      const onClose = (): void => gone.abort();
      reply.raw.once('close', onClose);
      reply.header('cache-control', 'no-store');
      try {
        return { commands: await commands.poll(agent, (req.query.waitSeconds ?? 0) * 1000, gone.signal) };
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  );

  app.post(
    `${AGENT_COMMANDS_PATH}/:id/ack`,
    {
      logLevel: 'warn',
      onRequest: authenticateAgent,
      schema: {
        tags: ['agent'],
        summary: 'Acknowledge receipt of a command (stops its redelivery)',
        description: 'Authorization: Bearer niro_ak_…. Send no body. Repeating it is harmless.',
        security: AGENT_SECURITY,
        params: CommandIdParams,
        response: NO_CONTENT,
      },
    },
    async (req, reply) => {
      await commands.acknowledge(agentOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    `${AGENT_COMMANDS_PATH}/:id/result`,
    {
      bodyLimit: COMMAND_LIMITS.resultBytes + ENVELOPE_BYTES,
      onRequest: authenticateAgent,
      schema: {
        tags: ['agent'],
        summary: 'Report the outcome of a command',
        description:
          'Authorization: Bearer niro_ak_…. The first result wins: repeating it answers 200 with ' +
          'recorded: false and changes nothing. 409 command_cancelled or command_expired when the command ' +
          'ended before the result arrived.',
        security: AGENT_SECURITY,
        params: CommandIdParams,
        body: CommandResultBody,
        response: { 200: CommandResultReply },
      },
    },
    async (req) => commands.recordResult(agentOf(req), req.params.id, req.body),
  );

  // Waiting long-polls would otherwise hold the server's close for up to 30 s.
  app.addHook('preClose', async () => {
    commands.close();
  });
}
