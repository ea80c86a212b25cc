import type { Rule } from '../types.js';
import { EFFICIENCY_RULES } from './efficiency.js';
import { IMAGES_RULES } from './images.js';
import { RELIABILITY_RULES } from './reliability.js';
import { SECURITY_RULES } from './security.js';

export { EFFICIENCY_RULES, IMAGES_RULES, RELIABILITY_RULES, SECURITY_RULES };

/** Every rule, in catalogue order: by category, then as each category lists them. */
export const RULES: readonly Rule[] = [...RELIABILITY_RULES, ...SECURITY_RULES, ...EFFICIENCY_RULES, ...IMAGES_RULES];

const BY_ID: ReadonlyMap<string, Rule> = new Map(RULES.map((rule) => [rule.id, rule]));

export function ruleById(id: string): Rule | undefined {
  return BY_ID.get(id);
}
