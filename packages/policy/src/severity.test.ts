import { describe, expect, it } from 'vitest';
import { SEVERITY_RANK, severityFor } from './severity.js';

describe('severityFor', () => {
  it('uses the non-production value for dev and unspecified, the production value for production', () => {
    const pair = { nonProduction: 'info', production: 'high' } as const;
    expect(severityFor(pair, 'dev')).toBe('info');
    expect(severityFor(pair, 'unspecified')).toBe('info');
    expect(severityFor(pair, 'production')).toBe('high');
  });

  it('puts staging one step below production', () => {
    expect(severityFor({ nonProduction: 'info', production: 'high' }, 'staging')).toBe('medium');
    expect(severityFor({ nonProduction: 'low', production: 'medium' }, 'staging')).toBe('low');
  });

  it('never puts staging below the non-production value', () => {
    expect(severityFor({ nonProduction: 'medium', production: 'medium' }, 'staging')).toBe('medium');
    expect(severityFor({ nonProduction: 'high', production: 'high' }, 'staging')).toBe('high');
    expect(severityFor({ nonProduction: 'info', production: 'info' }, 'staging')).toBe('info');
    expect(severityFor({ nonProduction: 'medium', production: 'high' }, 'staging')).toBe('medium');
  });

  it('ranks high above medium above low above info', () => {
    expect(SEVERITY_RANK.high).toBeGreaterThan(SEVERITY_RANK.medium);
    expect(SEVERITY_RANK.medium).toBeGreaterThan(SEVERITY_RANK.low);
    expect(SEVERITY_RANK.low).toBeGreaterThan(SEVERITY_RANK.info);
  });
});
