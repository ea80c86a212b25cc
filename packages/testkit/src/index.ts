export * from './rng.js';
export * from './names.js';
export * from './inventory.js';
export * from './agent-http.js';
export * from './simulated-agent.js';
export * from './simulator.js';
export * from './command-agent.js';
export * from './pod-fixtures.js';
