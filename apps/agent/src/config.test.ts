import { describe, expect, it } from 'vitest';
import { AgentConfigError, loadAgentConfig } from './config.js';

describe('agent configuration', () => {
  it('needs only NIRO_URL; the namespace defaults to niro-system', () => {
    expect(loadAgentConfig({ NIRO_URL: 'https://niro.example.com/' })).toMatchObject({
      niroUrl: 'https://niro.example.com',
      token: undefined,
      namespace: 'niro-system',
      logLevel: 'info',
      commandChannel: 'auto',
    });
    expect(loadAgentConfig({ NIRO_URL: 'https://n', NIRO_COMMAND_CHANNEL: 'long-poll' }).commandChannel).toBe(
      'long-poll',
    );
    expect(
      loadAgentConfig({ NIRO_URL: 'http://127.0.0.1:8080', NIRO_TOKEN: ' t ', POD_NAMESPACE: 'ops' }),
    ).toMatchObject({
      token: 't',
      namespace: 'ops',
    });
  });

  it.each([
    [{}, 'NIRO_URL is not set'],
    [{ NIRO_URL: 'niro.example.com' }, 'NIRO_URL is not a valid URL'],
    [{ NIRO_URL: 'ftp://niro.example.com' }, 'NIRO_URL must start with https:// or http://'],
    [{ NIRO_URL: 'https://u:p@niro.example.com' }, 'NIRO_URL must not contain credentials'],
    [{ NIRO_URL: 'https://n', NIRO_LOG_LEVEL: 'loud' }, 'NIRO_LOG_LEVEL must be one of'],
    [{ NIRO_URL: 'https://n', NIRO_COMMAND_CHANNEL: 'carrier-pigeon' }, 'NIRO_COMMAND_CHANNEL must be one of'],
    [{ NIRO_URL: 'https://n', NIRO_POD_USAGE_INTERVAL: '0' }, 'NIRO_POD_USAGE_INTERVAL must be a whole number'],
  ])('refuses %j with one line naming the variable', (env, message) => {
    expect(() => loadAgentConfig(env)).toThrow(AgentConfigError);
    expect(() => loadAgentConfig(env)).toThrow(message);
  });
});
