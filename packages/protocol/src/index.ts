export * from './errors.js';
export * from './agent.js';
export * from './api.js';
export * from './client.js';
export * from './agent-install.js';
export * from './commands.js';
export * from './deployment-form.js';
export * from './deployments.js';
