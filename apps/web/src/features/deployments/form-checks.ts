import { Value } from 'typebox/value';
import { DeploymentForm, validateDeploymentForm } from '@niro/protocol';

export type FormCheck = {
  /** The form without empty optional fields, when it passes the schema and the rules between fields. */
  valid: DeploymentForm | null;
  /** Problems by field path (`ports[0].containerPort`, `ingress.servicePort`), first one per field. */
  issues: Map<string, string>;
};

/** `/ports/0/containerPort` → `ports[0].containerPort` (the paths validateDeploymentForm and the server use). */
export function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .filter((s) => s !== '')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce(
      (path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : path === '' ? segment : `${path}.${segment}`),
      '',
    );
}

/** Drops undefined fields (and turns a number that is not one into null, which the schema refuses). */
export function cleanForm(form: DeploymentForm): unknown {
  return JSON.parse(JSON.stringify(form));
}

/** The builder's client-side checks: the DeploymentForm schema, then validateDeploymentForm (as the server does). */
export function checkForm(form: DeploymentForm): FormCheck {
  const issues = new Map<string, string>();
  const cleaned = cleanForm(form);
  if (!Value.Check(DeploymentForm, cleaned)) {
    for (const error of Value.Errors(DeploymentForm, cleaned)) {
      const path = fieldPath(error.instancePath);
      if (!issues.has(path)) issues.set(path, friendly(error.message));
    }
    return { valid: null, issues };
  }
  for (const issue of validateDeploymentForm(cleaned)) {
    if (!issues.has(issue.path)) issues.set(issue.path, issue.message);
  }
  return { valid: issues.size === 0 ? cleaned : null, issues };
}

function friendly(message: string): string {
  if (/pattern/i.test(message)) return 'not in the expected format';
  if (/integer|number/i.test(message)) return 'enter a whole number in range';
  return message;
}

/** The issue at `path` or under it, for sections that show one line for several fields. */
export function issueUnder(issues: Map<string, string>, prefix: string): string | undefined {
  for (const [path, message] of issues) {
    if (path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`)) return message;
  }
  return undefined;
}

/** A port written as digits is a number, anything else a port name. */
export function parsePortRef(text: string): number | string {
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : text.trim();
}

/** '' → NaN (the schema names the field), otherwise the number typed. */
export function parseNumber(text: string): number {
  return text.trim() === '' ? Number.NaN : Number(text);
}

export const numberText = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '' : String(n));

/** '' → undefined (the optional field is left out). */
export const optional = (text: string): string | undefined => (text === '' ? undefined : text);
