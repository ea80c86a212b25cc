import type { Clock } from '../../clock.js';
import { TooManyRequestsError } from '../../errors.js';
import type { RateLimitRepository } from './rate-limit.repository.js';

export type RateLimitRule = { max: number; windowMs: number };
export type LoginRateLimits = { perAccount: RateLimitRule; perIp: RateLimitRule };

/** Failed sign-ins allowed per account and per client address (login and token exchange share them). */
export const LOGIN_RATE_LIMITS: LoginRateLimits = {
  perAccount: { max: 10, windowMs: 15 * 60_000 },
  perIp: { max: 50, windowMs: 15 * 60_000 },
};

const KEY_PREFIX = 'login:';

export type LoginAttempt = { accountKey: string; ipKey: string; ipWindowStart: number };

/**
 * Counts every sign-in attempt before its password is checked and takes the count back when the
 * attempt succeeds, so the counters end up holding failures only while many concurrent guesses
 * still cannot slip past the limit (a check-then-count would let them all through).
 */
export class LoginRateLimiter {
  private lastPruneMs = 0;

  constructor(
    private readonly repo: RateLimitRepository,
    private readonly clock: Clock,
    private readonly limits: LoginRateLimits = LOGIN_RATE_LIMITS,
  ) {}

  /** Throws TooManyRequestsError (429 with Retry-After) when either counter is over its limit. */
  async begin(email: string, ip: string): Promise<LoginAttempt> {
    const now = this.clock.now();
    const accountKey = `${KEY_PREFIX}account:${email}`;
    const ipKey = `${KEY_PREFIX}ip:${ip}`;
    const account = await this.repo.hit(accountKey, now, this.limits.perAccount.windowMs);
    const byIp = await this.repo.hit(ipKey, now, this.limits.perIp.windowMs);
    let retryAfterMs = 0;
    if (account.count > this.limits.perAccount.max) {
      retryAfterMs = account.windowStart + this.limits.perAccount.windowMs - now;
    }
    if (byIp.count > this.limits.perIp.max) {
      retryAfterMs = Math.max(retryAfterMs, byIp.windowStart + this.limits.perIp.windowMs - now);
    }
    if (retryAfterMs > 0) {
      const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
      throw new TooManyRequestsError(`Too many failed sign-in attempts; try again in ${seconds} seconds`, seconds);
    }
    return { accountKey, ipKey, ipWindowStart: byIp.windowStart };
  }

  /** A correct password: the account starts afresh and the attempt does not count against the address. */
  async succeeded(attempt: LoginAttempt): Promise<void> {
    await this.repo.reset(attempt.accountKey);
    await this.repo.refund(attempt.ipKey, attempt.ipWindowStart);
    const now = this.clock.now();
    const longestWindowMs = Math.max(this.limits.perAccount.windowMs, this.limits.perIp.windowMs);
    if (now - this.lastPruneMs > longestWindowMs) {
      this.lastPruneMs = now;
      await this.repo.pruneEnded(KEY_PREFIX, now - longestWindowMs);
    }
  }
}
