import { evaluateYaml, RULES, severityFor } from '@niro/policy';
import {
  POLICY_EVALUATE_MAX_BYTES,
  type EvaluatePolicyRequest,
  type EvaluatePolicyResponse,
  type PolicyFinding,
  type PolicyRuleInfo,
} from '@niro/protocol';
import { NiroError } from '../../errors.js';
import type { Logger } from '../../logger.js';

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

  constructor(private readonly logger: Logger) {}

  /**
   * Findings of the manifests in `yaml`. Documents that cannot be read (bad YAML, too many
   * aliases, not a Kubernetes object) come back in `errors` beside the findings of the others:
   * the request itself was valid, so it is a 200.
   */
  evaluate(input: EvaluatePolicyRequest): EvaluatePolicyResponse {
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
    let result: ReturnType<typeof evaluateYaml>;
    try {
      result = evaluateYaml(input.yaml, { environment });
    } catch (err) {
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
