import { describe, expect, it } from 'vitest';
import { createAgentLogger } from './logger.js';

function capture(level: Parameters<typeof createAgentLogger>[0]) {
  const lines: Record<string, unknown>[] = [];
  const logger = createAgentLogger(level, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('agent logger', () => {
  it("writes pino-format JSON lines at or above its level, with a child's bindings", () => {
    const { logger, lines } = capture('info');
    logger.debug('not shown');
    logger.info('started');
    logger.child({ resource: '/api/v1/pods' }).warn({ attempt: 3 }, 'watch failed');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 30, service: 'niro-agent', msg: 'started' });
    expect(typeof lines[0]?.time).toBe('string');
    expect(lines[1]).toMatchObject({ level: 40, resource: '/api/v1/pods', attempt: 3, msg: 'watch failed' });
  });

  it('never writes credentials, at any depth, and writes errors as type and message', () => {
    const { logger, lines } = capture('debug');
    logger.info(
      { token: 'niro_et_secret', request: { headers: { authorization: 'Bearer niro_ak_secret' } }, agentKey: 'k' },
      'enrolling',
    );
    logger.error({ err: new TypeError('boom') }, 'failed');
    const text = JSON.stringify(lines);
    expect(text).not.toContain('secret');
    expect(lines[0]).toMatchObject({ token: '[redacted]', agentKey: '[redacted]' });
    expect(lines[1]).toMatchObject({ err: { type: 'TypeError', message: 'boom' } });
  });

  it('is quiet when silent', () => {
    const { logger, lines } = capture('silent');
    logger.fatal('nothing');
    expect(lines).toHaveLength(0);
  });
});
