import { parentPort } from 'node:worker_threads';
import { evaluateYaml } from '@niro/policy';
import type { EvaluatorReply, EvaluatorRequest } from './policy-evaluator.protocol.js';

/** Entry of the policy worker thread: evaluates one request at a time (policy-evaluator.ts). */
parentPort?.on('message', (request: EvaluatorRequest) => {
  let reply: EvaluatorReply;
  try {
    const result = evaluateYaml(request.yaml, {
      environment: request.environment,
      suppressions: request.suppressions,
    });
    reply = { id: request.id, findings: result.findings, errors: result.errors };
  } catch (err) {
    reply = { id: request.id, failure: err instanceof Error ? err.message : String(err) };
  }
  parentPort?.postMessage(reply);
});
