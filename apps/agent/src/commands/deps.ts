import type { Logger } from '../logger.js';
import type { KubeApi } from '../kube/types.js';
import type { Discovery } from './discovery.js';

/** What the apply, delete and diff commands need from the agent. */
export type CommandDeps = {
  api: KubeApi;
  discovery: Discovery;
  logger: Logger;
  /** How long to wait for a CustomResourceDefinition to be Established before its objects. */
  crdTimeoutMs: number;
};
