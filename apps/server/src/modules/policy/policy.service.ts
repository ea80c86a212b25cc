import { ruleById, RULES, severityFor, type Suppression, type YamlEvaluation } from '@niro/policy';
import {
  POLICY_EVALUATE_MAX_BYTES,
  type EvaluatePolicyRequest,
  type EvaluatePolicyResponse,
  type PolicyFinding,
  type PolicyRuleInfo,
} from '@niro/protocol';
import { BadRequestError, NiroError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { PolicyEvaluator } from './policy-evaluator.js';

/** The rule catalogue and build-time evaluation of manifests (DESIGN 6); nothing is stored. */
export class PolicyService {
  /** The catalogue does not change while the process runs. */
  readonly rules: PolicyRuleInfo[] = RULES.map((r) => ({
    id: r.id,
    title: r.title,
    category: r.category,
    description: r.description,
    fix: r.fix,
    severity: {
      nonProduction: r.severity.nonProduction,
      staging: severityFor(r.severity, 'staging'),
      production: r.severity.production,
    },
    needs: [...(r.needs ?? [])],
  }));

  constructor(
    private readonly logger: Logger,
    private readonly evaluator: PolicyEvaluator,
  ) {}

  /** Stops the evaluation worker (server shutdown). */
  close(): Promise<void> {
    return this.evaluator.close();
  }

  /**
   * Findings of the manifests in `yaml`. Documents that cannot be read (bad YAML, too many
   * aliases, not a Kubernetes object) come back in `errors` beside the findings of the others:
   * the request itself was valid, so it is a 200.
   */
  async evaluate(input: EvaluatePolicyRequest): Promise<EvaluatePolicyResponse> {
    const bytes = Buffer.byteLength(input.yaml, 'utf8');
    if (bytes > POLICY_EVALUATE_MAX_BYTES) {
      throw new NiroError(
        413,
        'manifest_too_large',
        `The manifests are ${bytes} bytes; at most ${POLICY_EVALUATE_MAX_BYTES} (2 MiB) are evaluated at once`,
        { fields: [{ field: 'body.yaml', message: `is longer than ${POLICY_EVALUATE_MAX_BYTES} bytes` }] },
      );
    }
    const environment = input.environment ?? 'unspecified';
    const suppressions = buildSuppressions(input.suppressions ?? []);
    let result: YamlEvaluation;
    try {
      result = await this.evaluator.evaluate({ yaml: input.yaml, environment, suppressions });
    } catch (err) {
      if (err instanceof NiroError) throw err;
      // The engine reports bad input as errors; reaching here means input it could not survive
      // (nesting deep enough to exhaust the stack, say). Still the caller's input, not our fault.
      this.logger.warn({ err, bytes }, 'policy evaluation of submitted manifests failed');
      return {
        findings: [],
        errors: [{ message: 'The manifests could not be evaluated: they are too complex to read' }],
      };
    }
    return {
      findings: result.findings.map((f): PolicyFinding => {
        const out: PolicyFinding = {
          ruleId: f.ruleId,
          title: f.title,
          severity: f.severity,
          category: f.category,
          message: f.message,
          object: f.object.namespace === undefined ? { kind: f.object.kind, name: f.object.name } : { ...f.object },
        };
        if (f.container !== undefined) out.container = f.container;
        if (f.path !== undefined) out.path = f.path;
        if (f.fix !== undefined) out.fix = f.fix;
        return out;
      }),
      errors: result.errors.map((e) => {
        const out: EvaluatePolicyResponse['errors'][number] = { message: e.message };
        if (e.document !== undefined) out.document = e.document;
        if (e.line !== undefined) out.line = e.line;
        return out;
      }),
    };
  }
}

/**
 * Suppressions sent by build-time callers (CI, `niro lint`): their findings are left out of the
 * reply. Unknown rules are refused, as a typo would otherwise suppress nothing without a word.
 */
function buildSuppressions(input: NonNullable<EvaluatePolicyRequest['suppressions']>): Suppression[] {
  return input.map((s, i) => {
    if (ruleById(s.ruleId) === undefined) {
      const field = `body.suppressions[${i}].ruleId`;
      const message = `is not a rule of GET /api/v1/policy/rules: ${s.ruleId}`;
      throw new BadRequestError('unknown_rule', `Invalid request: ${field}: ${message}`, {
        fields: [{ field, message }],
      });
    }
    if (s.reason.trim() === '') {
      const field = `body.suppressions[${i}].reason`;
      const message = 'must say why (not only spaces)';
      throw new BadRequestError('invalid_request', `Invalid request: ${field}: ${message}`, {
        fields: [{ field, message }],
      });
    }
    const object = s.object.namespace === undefined ? { kind: s.object.kind, name: s.object.name } : { ...s.object };
    return { ruleId: s.ruleId, object, reason: s.reason };
  });
}
