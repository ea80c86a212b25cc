import { PASSWORD_MIN_LENGTH } from '@niro/protocol';
import type { Clock } from '../../clock.js';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '../../errors.js';
import { newId, newSecret, sha256Hex } from '../../lib/ids.js';
import type { AuditService } from '../audit/audit.service.js';
import { buildOrgRow, type OrgWithRole, type OrgsService } from '../orgs/orgs.service.js';
import { isLoopbackAddress, type ClientInfo } from './client-info.js';
import type { LoginAttempt, LoginRateLimiter } from './login-rate-limiter.service.js';
import { hashPassword, OWASP_SCRYPT, verifyPassword, type ScryptParams } from './password.js';
import { auditActor, type Caller, type Principal } from './principal.js';
import type { NewSession, SessionsService } from './sessions.service.js';
import type { ApiTokenRow, UserRow, UsersRepository } from './users.repository.js';

export const API_TOKEN_PREFIX = 'niro_pat_';
const DAY_MS = 24 * 60 * 60 * 1000;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export type AuthServiceDeps = {
  users: UsersRepository;
  orgs: OrgsService;
  sessions: SessionsService;
  limiter: LoginRateLimiter;
  audit: AuditService;
  clock: Clock;
  scrypt?: ScryptParams;
};

export type Credentials = { email: string; password: string };
export type SignedIn = { user: UserRow; session: NewSession };
export type NewUser = { email: string; name?: string; password: string };

/** How a failed password check is audited and answered, for a flow that signs a user in. */
export type CredentialsCheck = {
  /** The audit action of a failure. */
  action: string;
  /** What a failure is recorded against; by default the account, when one has the email. */
  target?: { type: string; id: string };
  orgId?: string;
  /** The 401's message; by default it does not tell a wrong email from a wrong password. */
  message?: string;
};

export class AuthService {
  private readonly users: UsersRepository;
  private readonly orgs: OrgsService;
  private readonly sessions: SessionsService;
  private readonly limiter: LoginRateLimiter;
  private readonly audit: AuditService;
  private readonly clock: Clock;
  private readonly scrypt: ScryptParams;
  private dummyHash: Promise<string> | null = null;

  constructor(deps: AuthServiceDeps) {
    this.users = deps.users;
    this.orgs = deps.orgs;
    this.sessions = deps.sessions;
    this.limiter = deps.limiter;
    this.audit = deps.audit;
    this.clock = deps.clock;
    this.scrypt = deps.scrypt ?? OWASP_SCRYPT;
  }

  async createUser(input: NewUser): Promise<UserRow> {
    const row = await this.newUserRow(input);
    if (await this.users.findByEmail(row.email)) {
      throw new ConflictError('email_taken', `A user with email ${row.email} already exists`);
    }
    await this.users.insert(row);
    return row;
  }

  /** A new account's row, not yet stored: the email checked and normalised, the password's length checked and hashed. */
  async newUserRow(input: NewUser): Promise<UserRow> {
    const email = input.email.trim().toLowerCase();
    if (!EMAIL.test(email)) {
      throw new BadRequestError('invalid_email', 'email is not an email address', {
        fields: [{ field: 'body.email', message: 'is not an email address' }],
      });
    }
    if (input.password.length < PASSWORD_MIN_LENGTH) {
      throw new BadRequestError('password_too_short', `password must be at least ${PASSWORD_MIN_LENGTH} characters`, {
        fields: [{ field: 'body.password', message: `must be at least ${PASSWORD_MIN_LENGTH} characters` }],
      });
    }
    const now = this.clock.now();
    return {
      id: newId(now),
      email,
      name: input.name?.trim() || (email.split('@')[0] ?? email),
      password_hash: await hashPassword(input.password, this.scrypt),
      created_at: now,
      password_changed_at: now,
      disabled_at: null,
    };
  }

  /**
   * Creates the first administrator and the root organization on an empty database. Returns
   * null when a user already exists (so restarting with NIRO_ADMIN_* set changes nothing).
   */
  async bootstrapAdmin(input: { email: string; password: string; orgName?: string }): Promise<UserRow | null> {
    return (await this.createFirstAdmin(input))?.user ?? null;
  }

  /** The first user and the root org they own, atomically; null when any user already exists. */
  private async createFirstAdmin(input: {
    email: string;
    password: string;
    name?: string;
    orgName?: string;
  }): Promise<{ user: UserRow; org: ReturnType<typeof buildOrgRow> } | null> {
    const user = await this.newUserRow(input);
    const org = buildOrgRow(input.orgName ?? 'Default', null, user.created_at);
    return (await this.users.createFirstUser(user, org)) ? { user, org } : null;
  }

  async needsSetup(): Promise<boolean> {
    return (await this.users.countUsers()) === 0;
  }

  /**
   * First-run setup without NIRO_ADMIN_*: only from the machine itself (every address the
   * request names is loopback) and only while there is no user; of concurrent calls one wins.
   */
  async setup(
    input: { email: string; password: string; name?: string; orgName?: string },
    client: ClientInfo,
  ): Promise<SignedIn> {
    if (client.addresses.length === 0 || !client.addresses.every(isLoopbackAddress)) {
      throw new ForbiddenError(
        'setup_requires_loopback',
        'First-run setup is only allowed from the server machine itself (http://127.0.0.1); or set NIRO_ADMIN_EMAIL and NIRO_ADMIN_PASSWORD',
      );
    }
    // Checked first too, so a set-up server does not spend a password hash on every request.
    if (!(await this.needsSetup())) throw alreadySetUp();
    const created = await this.createFirstAdmin(input);
    if (created === null) throw alreadySetUp();
    const { user, org } = created;
    const session = await this.sessions.create(user.id, client);
    await this.audit.record({
      actor: { type: 'user', id: user.id, label: user.email },
      action: 'auth.setup',
      target: { type: 'user', id: user.id },
      orgId: org.id,
      ip: client.ip,
      details: { orgName: org.name },
    });
    return { user, session };
  }

  /** Email + password → a new browser session. The session of `previousCookie`, if any, ends (rotation). */
  async login(input: Credentials, client: ClientInfo, previousCookie?: string): Promise<SignedIn> {
    const user = await this.verifyCredentials(input, client, { action: 'auth.login' });
    if (previousCookie !== undefined) await this.sessions.revokeCookie(previousCookie);
    const session = await this.sessions.create(user.id, client);
    await this.audit.record({
      actor: { type: 'user', id: user.id, label: user.email },
      action: 'auth.login',
      target: { type: 'user', id: user.id },
      ip: client.ip,
      details: { method: 'password' },
    });
    return { user, session };
  }

  /** Email + password → a new API token (for scripts and `niro login`), rate-limited like login. */
  async exchangeToken(
    input: Credentials & { name: string },
    client: ClientInfo,
  ): Promise<{ token: string; row: ApiTokenRow }> {
    const user = await this.verifyCredentials(input, client, { action: 'auth.token' });
    const created = await this.createApiToken(user.id, input.name.trim());
    await this.audit.record({
      actor: { type: 'user', id: user.id, label: user.email },
      action: 'auth.token',
      target: { type: 'api_token', id: created.row.id },
      ip: client.ip,
      details: { name: created.row.name },
    });
    return created;
  }

  /** Ends the caller's browser session; a no-op for API tokens (revoke those instead). */
  async logout(caller: Caller): Promise<boolean> {
    const { principal } = caller;
    if (principal.via !== 'session' || principal.sessionId === undefined) return false;
    await this.sessions.revoke(principal.sessionId);
    await this.audit.record({
      actor: auditActor(principal),
      action: 'auth.logout',
      target: { type: 'user', id: principal.userId },
      ip: caller.ip,
    });
    return true;
  }

  authenticateSession(cookieValue: string): Promise<Principal | null> {
    return this.sessions.authenticate(cookieValue);
  }

  /** Ends a session by cookie value without audit (a stale or replaced cookie). */
  async forgetSession(cookieValue: string): Promise<void> {
    await this.sessions.revokeCookie(cookieValue);
  }

  async me(userId: string): Promise<{ user: UserRow; orgs: OrgWithRole[] }> {
    const user = await this.users.findById(userId);
    if (user === undefined) throw new UnauthorizedError();
    return { user, orgs: await this.orgs.listForUser(userId) };
  }

  /** Issues an API token; the secret is returned once and only its hash is stored. No audit. */
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

  /** A token for the signed-in caller (POST /tokens). */
  async issueToken(
    caller: Caller,
    input: { name: string; expiresInDays?: number },
  ): Promise<{ token: string; row: ApiTokenRow }> {
    const expiresAt = input.expiresInDays === undefined ? null : this.clock.now() + input.expiresInDays * DAY_MS;
    const created = await this.createApiToken(caller.principal.userId, input.name.trim(), expiresAt);
    await this.audit.record({
      actor: auditActor(caller.principal),
      action: 'token.create',
      target: { type: 'api_token', id: created.row.id },
      ip: caller.ip,
      details: { name: created.row.name, expiresAt },
    });
    return created;
  }

  listTokens(userId: string): Promise<ApiTokenRow[]> {
    return this.users.listTokens(userId);
  }

  /** Revokes one of the caller's tokens; it stops working with the next request. */
  async revokeToken(caller: Caller, tokenId: string): Promise<void> {
    const revoked = await this.users.revokeToken(caller.principal.userId, tokenId, this.clock.now());
    if (revoked === undefined) throw new NotFoundError('API token');
    await this.audit.record({
      actor: auditActor(caller.principal),
      action: 'token.revoke',
      target: { type: 'api_token', id: revoked.id },
      ip: caller.ip,
      details: { name: revoked.name },
    });
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

  /**
   * The one place a password is checked (sign-in, token exchange, accepting an invitation as an
   * existing user), all on one rate limiter. Wrong email and wrong password fail alike, and take
   * alike long: an unknown email is verified against a dummy hash. Every failure is audited.
   */
  async verifyCredentials(input: Credentials, client: ClientInfo, check: CredentialsCheck): Promise<UserRow> {
    const email = input.email.trim().toLowerCase();
    // Someone may type a password into the email field: only a plausible email is recorded.
    const label = EMAIL.test(email) ? email : null;
    const fail = async (reason: string, userId?: string): Promise<void> => {
      const target = check.target ?? (userId === undefined ? undefined : { type: 'user', id: userId });
      await this.audit.record({
        actor: { type: 'anonymous', id: null, label },
        action: check.action,
        ...(target === undefined ? {} : { target }),
        ...(check.orgId === undefined ? {} : { orgId: check.orgId }),
        ip: client.ip,
        outcome: 'failure',
        details: { reason },
      });
    };
    let attempt: LoginAttempt;
    try {
      attempt = await this.limiter.begin(email, client.ip);
    } catch (err) {
      await fail('rate_limited');
      throw err;
    }
    const user = await this.users.findByEmail(email);
    const matches = await verifyPassword(input.password, user?.password_hash ?? (await this.getDummyHash()));
    if (user === undefined || !matches || user.disabled_at !== null) {
      await fail(
        user === undefined ? 'unknown_email' : user.disabled_at !== null ? 'disabled' : 'wrong_password',
        user?.id,
      );
      throw new UnauthorizedError('invalid_credentials', check.message ?? 'The email or password is not correct');
    }
    await this.limiter.succeeded(attempt);
    return user;
  }

  private getDummyHash(): Promise<string> {
    this.dummyHash ??= hashPassword(newSecret('', 16), this.scrypt);
    return this.dummyHash;
  }
}

function alreadySetUp(): ConflictError {
  return new ConflictError('already_set_up', 'Niro is already set up; sign in instead');
}
