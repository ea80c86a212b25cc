import { afterEach, beforeEach, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { createServices } from '../../services.js';
import { createTestApp, createUserWithToken, TEST_SCRYPT, type TestApp } from '../../test-support/app.js';
import { describeEachDatabase } from '../../test-support/databases.js';
import { LOGIN_RATE_LIMITS } from './login-rate-limiter.service.js';

const WINDOW_MS = LOGIN_RATE_LIMITS.perAccount.windowMs;

describeEachDatabase('login rate limiting', (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(() => t.dispose());

  const login = (email: string, password: string, remoteAddress = '192.0.2.1') =>
    t.app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress, payload: { email, password } });

  it('locks an account after 10 failures for the rest of the 15-minute window, with Retry-After', async () => {
    const u = await createUserWithToken(t.services);
    for (let i = 0; i < 10; i++) expect((await login(u.email, `wrong-${i}`)).statusCode).toBe(401);
    t.clock.advance(60_000);
    const locked = await login(u.email, u.password);
    expect(locked.statusCode).toBe(429);
    expect(locked.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect(locked.headers['retry-after']).toBe(String((WINDOW_MS - 60_000) / 1000));
    // Another address does not help: the limit is per account.
    expect((await login(u.email, u.password, '198.51.100.9')).statusCode).toBe(429);
    t.clock.advance(WINDOW_MS - 60_000);
    expect((await login(u.email, u.password)).statusCode).toBe(200);
  });

  it('starts the account afresh after a successful login', async () => {
    const u = await createUserWithToken(t.services);
    for (let i = 0; i < 9; i++) expect((await login(u.email, 'wrong password')).statusCode).toBe(401);
    expect((await login(u.email, u.password)).statusCode).toBe(200);
    for (let i = 0; i < 10; i++) expect((await login(u.email, 'wrong password')).statusCode).toBe(401);
    expect((await login(u.email, 'wrong password')).statusCode).toBe(429);
  });

  it('limits failures per client address across accounts', async () => {
    const u = await createUserWithToken(t.services);
    for (let i = 0; i < 50; i++) {
      expect((await login(`nobody-${i}@example.test`, 'guess', '203.0.113.5')).statusCode).toBe(401);
    }
    const limited = await login(u.email, u.password, '203.0.113.5');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await login(u.email, u.password, '203.0.113.6')).statusCode).toBe(200);
  });

  it('keeps counting across a restart (the counters live in the database)', async () => {
    const u = await createUserWithToken(t.services);
    for (let i = 0; i < 10; i++) expect((await login(u.email, 'wrong password')).statusCode).toBe(401);
    const restarted = await buildApp(
      createServices({
        config: t.services.config,
        clock: t.clock,
        logger: t.services.logger,
        database: t.services.database,
        options: { scrypt: TEST_SCRYPT, processMetrics: false },
      }),
    );
    try {
      const res = await restarted.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        remoteAddress: '192.0.2.1',
        payload: { email: u.email, password: u.password },
      });
      expect(res.statusCode).toBe(429);
    } finally {
      await restarted.close();
    }
  });

  it('shares the limit with POST /auth/token', async () => {
    const u = await createUserWithToken(t.services);
    for (let i = 0; i < 10; i++) expect((await login(u.email, 'wrong password')).statusCode).toBe(401);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      remoteAddress: '192.0.2.1',
      payload: { email: u.email, password: u.password, name: 'cli' },
    });
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('lets no more than 10 of 30 concurrent guesses through to the password check', async () => {
    const u = await createUserWithToken(t.services);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => login(u.email, `guess-${i}`, `192.0.2.${i + 10}`)),
    );
    const codes = results.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 401)).toHaveLength(10);
    expect(codes.filter((c) => c === 429)).toHaveLength(20);
  });
});
