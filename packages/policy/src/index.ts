export * from './types.js';
export * from './severity.js';
export * from './workloads.js';
export * from './input.js';
export * from './engine.js';
export { EFFICIENCY_RULES, IMAGES_RULES, RELIABILITY_RULES, RULES, SECURITY_RULES, ruleById } from './rules/index.js';
