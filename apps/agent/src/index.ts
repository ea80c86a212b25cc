export { Agent, EXIT, type AgentOptions, type AgentStats } from './agent.js';
export { loadAgentConfig, AgentConfigError, type AgentConfig } from './config.js';
export { createAgentLogger } from './logger.js';
export { AGENT_VERSION } from './version.js';
