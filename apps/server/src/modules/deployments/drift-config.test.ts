import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config.js';

describe('NIRO_DRIFT_INTERVAL', () => {
  it('checks every 5 minutes unless set, can be turned off, and names itself when too short', () => {
    expect(loadConfig({}).driftIntervalMs).toBe(300_000);
    expect(loadConfig({ NIRO_DRIFT_INTERVAL: '90s' }).driftIntervalMs).toBe(90_000);
    expect(loadConfig({ NIRO_DRIFT_INTERVAL: 'off' }).driftIntervalMs).toBeNull();
    expect(() => loadConfig({ NIRO_DRIFT_INTERVAL: '5s' })).toThrow(ConfigError);
    expect(() => loadConfig({ NIRO_DRIFT_INTERVAL: '5s' })).toThrow(/NIRO_DRIFT_INTERVAL: must be at least 10s/);
    expect(() => loadConfig({ NIRO_DRIFT_INTERVAL: 'soon' })).toThrow(/NIRO_DRIFT_INTERVAL/);
  });
});
