import type { FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../../errors.js';
import type { AgentIdentity } from '../heartbeat/heartbeat.service.js';
import type { CommandsService } from './commands.service.js';

export type AgentAuthentication = {
  /** An `onRequest` hook: the bearer key is checked before any body is read. */
  authenticateAgent(req: FastifyRequest): Promise<void>;
  /** The agent the hook authenticated for this request. */
  agentOf(req: FastifyRequest): AgentIdentity;
};

/** Agent routes authenticate by key only; cookies play no part here. */
export function agentAuthentication(commands: CommandsService): AgentAuthentication {
  const agents = new WeakMap<FastifyRequest, AgentIdentity>();
  return {
    async authenticateAgent(req) {
      agents.set(req, await commands.authenticateAgent(req.headers.authorization));
    },
    agentOf(req) {
      const agent = agents.get(req);
      if (agent === undefined) throw new UnauthorizedError('invalid_agent_key', 'The agent key is missing');
      return agent;
    },
  };
}
