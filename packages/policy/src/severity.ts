import { SEVERITIES, type Environment, type Severity } from './types.js';

/** Higher is worse: info 0, low 1, medium 2, high 3. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = {
  info: 0,
  low: 1,
  medium: 2,
  high: 3,
};

export type SeverityPair = { nonProduction: Severity; production: Severity };

/**
 * The severity of a rule in an environment (DESIGN 6): `dev` and `unspecified` use the
 * non-production value, `production` the production value, and `staging` one step below
 * production, never below the non-production value.
 */
export function severityFor(pair: SeverityPair, environment: Environment): Severity {
  switch (environment) {
    case 'production':
      return pair.production;
    case 'staging': {
      const rank = Math.max(SEVERITY_RANK[pair.production] - 1, SEVERITY_RANK[pair.nonProduction]);
      return SEVERITIES[rank] ?? pair.production;
    }
    case 'dev':
    case 'unspecified':
      return pair.nonProduction;
  }
}

/** For sorting worst first. */
export function compareSeverityDesc(a: Severity, b: Severity): number {
  return SEVERITY_RANK[b] - SEVERITY_RANK[a];
}
