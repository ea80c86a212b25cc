import type { Environment, Finding, ManifestError, Suppression } from '@niro/policy';
import { isRecord } from '../../lib/validation.js';

/** Messages between the server and its policy worker (policy-evaluator.ts). */
export type EvaluatorRequest = {
  id: number;
  yaml: string;
  environment: Environment;
  suppressions: Suppression[];
};

export type EvaluatorReply =
  { id: number; findings: Finding[]; errors: ManifestError[] } | { id: number; failure: string };

/**
 * The worker is ours and runs our code, but a reply crosses a thread boundary as structured
 * clone data: check its outline before trusting it.
 */
export function isEvaluatorReply(value: unknown): value is EvaluatorReply {
  if (!isRecord(value) || typeof value.id !== 'number') return false;
  if (typeof value.failure === 'string') return true;
  return Array.isArray(value.findings) && Array.isArray(value.errors);
}
