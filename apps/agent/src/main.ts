import { Agent, EXIT } from './agent.js';
import { AgentConfigError, loadAgentConfig } from './config.js';
import { loadKubeConfig } from './kube/kube-config.js';
import { KubeClient } from './kube/kube-client.js';
import { createAgentLogger } from './logger.js';
import { AGENT_VERSION } from './version.js';

/** `niro-agent`: configuration from the environment, logs as JSON lines on stdout. */
async function main(): Promise<number> {
  let config;
  try {
    config = loadAgentConfig(process.env);
  } catch (err) {
    if (err instanceof AgentConfigError) {
      process.stderr.write(`niro-agent: ${err.message}\n`);
      return EXIT.misconfigured;
    }
    throw err;
  }
  const logger = createAgentLogger(config.logLevel);
  let api: KubeClient;
  try {
    api = new KubeClient(loadKubeConfig(process.env), { userAgent: `niro-agent/${AGENT_VERSION}` });
  } catch (err) {
    logger.error(`cannot reach the Kubernetes API: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.misconfigured;
  }
  logger.info({ version: AGENT_VERSION, niroUrl: config.niroUrl, kubernetes: api.server }, 'niro-agent starting');
  const agent = new Agent({ config, api, logger });
  const stop = (signal: string): void => {
    logger.info({ signal }, 'stopping');
    agent.stop();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  try {
    return await agent.run();
  } finally {
    api.close();
  }
}

process.exitCode = await main();
