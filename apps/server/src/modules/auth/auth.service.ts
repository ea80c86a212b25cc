import type { Clock } from '../../clock.js';
import { ConflictError } from '../../errors.js';
import { newId, newSecret, sha256Hex } from '../../lib/ids.js';
import type { OrgsService } from '../orgs/orgs.service.js';
import { hashPassword, OWASP_SCRYPT, type ScryptParams } from './password.js';
import type { Principal } from './principal.js';
import type { ApiTokenRow, UserRow, UsersRepository } from './users.repository.js';

export const API_TOKEN_PREFIX = 'niro_pat_';

export type AuthServiceOptions = { scrypt?: ScryptParams };

export class AuthService {
  private readonly scrypt: ScryptParams;

  constructor(
    private readonly users: UsersRepository,
    private readonly orgs: OrgsService,
    private readonly clock: Clock,
    options: AuthServiceOptions = {},
  ) {
    this.scrypt = options.scrypt ?? OWASP_SCRYPT;
  }

  async createUser(input: { email: string; name?: string; password: string }): Promise<UserRow> {
    const email = input.email.trim().toLowerCase();
    if (await this.users.findByEmail(email)) {
      throw new ConflictError('email_taken', `A user with email ${email} already exists`);
    }
    const now = this.clock.now();
    const row: UserRow = {
      id: newId(now),
      email,
      name: input.name ?? email.split('@')[0] ?? email,
      password_hash: await hashPassword(input.password, this.scrypt),
      created_at: now,
      password_changed_at: now,
      disabled_at: null,
    };
    await this.users.insert(row);
    return row;
  }

  /**
   * Creates the first administrator and the root organization on an empty database. Returns
   * null when a user already exists (so restarting with NIRO_ADMIN_* set changes nothing).
   */
  async bootstrapAdmin(input: { email: string; password: string; orgName?: string }): Promise<UserRow | null> {
    if ((await this.users.countUsers()) > 0) return null;
    const user = await this.createUser(input);
    await this.orgs.create(input.orgName ?? 'Default', null, user.id);
    return user;
  }

  async needsSetup(): Promise<boolean> {
    return (await this.users.countUsers()) === 0;
  }

  /** Issues an API token; the secret is returned once and only its hash is stored. */
  async createApiToken(
    userId: string,
    name: string,
    expiresAt: number | null = null,
  ): Promise<{ token: string; row: ApiTokenRow }> {
    const now = this.clock.now();
    const token = newSecret(API_TOKEN_PREFIX, 32);
    const row: ApiTokenRow = {
      id: newId(now),
      user_id: userId,
      name,
      token_hash: sha256Hex(token),
      created_at: now,
      last_used_at: null,
      expires_at: expiresAt,
      revoked_at: null,
    };
    await this.users.insertToken(row);
    return { token, row };
  }

  async authenticateToken(token: string): Promise<Principal | null> {
    if (!token.startsWith(API_TOKEN_PREFIX)) return null;
    const now = this.clock.now();
    const row = await this.users.findActiveToken(sha256Hex(token), now);
    if (!row) return null;
    // Touch at most once a minute: a script polling every second should not write every second.
    if (row.last_used_at === null || now - row.last_used_at > 60_000) await this.users.touchToken(row.id, now);
    return { userId: row.user_id, email: row.email, via: 'token', tokenId: row.id, tokenName: row.name };
  }
}
