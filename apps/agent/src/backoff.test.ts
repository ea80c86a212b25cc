import { describe, expect, it } from 'vitest';
import { fullJitterDelay, StateLog } from './backoff.js';
import { createAgentLogger } from './logger.js';

describe('backoff', () => {
  it('grows exponentially to the cap, with full jitter below it', () => {
    expect([0, 1, 2, 3, 10].map((a) => fullJitterDelay(a, 1000, 60_000, () => 0.999999))).toEqual([
      999, 1999, 3999, 7999, 59_999,
    ]);
    expect(fullJitterDelay(5, 1000, 60_000, () => 0)).toBe(0);
  });

  it('logs a repeating failure once when it starts and once when it ends', () => {
    const lines: { msg: string; state?: string; failures?: number }[] = [];
    const sink = { write: (line: string) => lines.push(JSON.parse(line)) };
    let now = 0;
    const log = new StateLog(createAgentLogger('info', sink), 'Niro', () => now);
    for (let i = 0; i < 50; i++) log.failed('unreachable', 'heartbeats fail (ECONNREFUSED)');
    log.failed('http 503', 'heartbeats fail (HTTP 503)');
    now = 120_000;
    log.ok('heartbeats get through again');
    log.ok('heartbeats get through again');
    expect(lines.map((l) => l.msg)).toEqual([
      'Niro: heartbeats fail (ECONNREFUSED)',
      'Niro: heartbeats fail (HTTP 503)',
      'Niro: heartbeats get through again',
    ]);
    expect(lines[2]).toMatchObject({ failures: 51, seconds: 120 });
  });
});
