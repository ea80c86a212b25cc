import type { Clock } from '../../clock.js';
import { newSecret, sha256Hex } from '../../lib/ids.js';
import type { ClientInfo } from './client-info.js';
import type { Principal } from './principal.js';
import type { SessionsRepository } from './sessions.repository.js';

/** Absolute lifetime: a session ends 24 h after sign-in however active it is. */
export const SESSION_TTL_MS = 24 * 60 * 60 * 1000;
const TOUCH_INTERVAL_MS = 60_000;
/** 32 random bytes, base64url. */
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

export type NewSession = { cookieValue: string; createdAt: number; expiresAt: number };

/** Browser sessions: the cookie holds 256 random bits, the database only their SHA-256. */
export class SessionsService {
  constructor(
    private readonly repo: SessionsRepository,
    private readonly clock: Clock,
  ) {}

  async create(userId: string, client: ClientInfo): Promise<NewSession> {
    const now = this.clock.now();
    const cookieValue = newSecret('', 32);
    const expiresAt = now + SESSION_TTL_MS;
    await this.repo.deleteExpiredOf(userId, now);
    await this.repo.insert({
      id: sha256Hex(cookieValue),
      user_id: userId,
      created_at: now,
      expires_at: expiresAt,
      last_seen_at: now,
      ip: client.ip,
      user_agent: client.userAgent,
    });
    return { cookieValue, createdAt: now, expiresAt };
  }

  /** The signed-in user of a cookie value, or null when it is unknown, expired or the user is disabled. */
  async authenticate(cookieValue: string): Promise<Principal | null> {
    if (!COOKIE_VALUE.test(cookieValue)) return null;
    const id = sha256Hex(cookieValue);
    const row = await this.repo.findWithUser(id);
    if (row === undefined) return null;
    const now = this.clock.now();
    if (row.expires_at <= now) {
      await this.repo.delete(id);
      return null;
    }
    if (row.disabled_at !== null) return null;
    if (now - row.last_seen_at > TOUCH_INTERVAL_MS) await this.repo.touch(id, now);
    return { userId: row.user_id, email: row.email, via: 'session', sessionId: id };
  }

  /** Ends the session a cookie value belongs to (if any); returns whether one ended. */
  revokeCookie(cookieValue: string): Promise<boolean> {
    if (!COOKIE_VALUE.test(cookieValue)) return Promise.resolve(false);
    return this.repo.delete(sha256Hex(cookieValue));
  }

  revoke(sessionId: string): Promise<boolean> {
    return this.repo.delete(sessionId);
  }
}
