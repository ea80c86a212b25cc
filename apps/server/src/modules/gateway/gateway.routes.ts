import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { AgentGateway, type AgentGatewayOptions } from './agent-gateway.js';

/**
 * The agent's WebSocket command channel on the app's HTTP server (not a Fastify route: OpenAPI
 * cannot describe an upgrade). A plain GET is a 404, and the agent falls back to long-poll.
 */
export function registerAgentGateway(
  app: App,
  services: Services,
  options: Partial<AgentGatewayOptions> = {},
): AgentGateway {
  const gateway = new AgentGateway(
    {
      commands: services.commands,
      keyRevocations: services.keyRevocations,
      logs: services.logs,
      logger: services.logger,
      registry: services.metrics.registry,
    },
    options,
  );
  app.server.on('upgrade', (req, socket, head: Buffer) => {
    void gateway.handleUpgrade(req, socket, head);
  });

  app.addHook('preClose', async () => {
    gateway.close();
  });
  return gateway;
}
