import { INVITATION_EXPIRES_IN_HOURS_DEFAULT, type CreateInvitationRequest } from '@niro/protocol';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { ConflictError, ForbiddenError, NiroError, NotFoundError } from '../../errors.js';
import { newId, newSecret, sha256Hex } from '../../lib/ids.js';
import type { AuditService } from '../audit/audit.service.js';
import type { AuthService } from '../auth/auth.service.js';
import type { ClientInfo } from '../auth/client-info.js';
import { auditActor, type Caller } from '../auth/principal.js';
import type { NewSession, SessionsService } from '../auth/sessions.service.js';
import type { UsersRepository } from '../auth/users.repository.js';
import type { OrgsService } from '../orgs/orgs.service.js';
import type {
  Acceptor,
  InvitationListRow,
  InvitationRow,
  InvitationWithOrg,
  InvitationsRepository,
} from './invitations.repository.js';

export const INVITATION_TOKEN_PREFIX = 'niro_inv_';
/** 256 random bits, base64url after the prefix. */
const INVITATION_TOKEN_BYTES = 32;
const HOUR_MS = 60 * 60 * 1000;

export type InvitationsServiceDeps = {
  repo: InvitationsRepository;
  users: UsersRepository;
  /** Checks an existing account's password as sign-in does (one limiter) and builds new accounts. */
  auth: AuthService;
  orgs: OrgsService;
  sessions: SessionsService;
  audit: AuditService;
  clock: Clock;
  config: Config;
};

export type CreatedInvitation = { row: InvitationListRow; token: string; url: string };
export type InvitationPreview = { row: InvitationWithOrg; existingUser: boolean };
export type AcceptedInvitation = { orgId: string; session: NewSession };

/**
 * Invitations to an org: an admin (an owner, for the owner role) creates one for an email; the
 * link carries a single-use token that expires. Only the token's SHA-256 is stored, and the
 * token never reaches the audit trail or a log line.
 */
export class InvitationsService {
  private readonly repo: InvitationsRepository;
  private readonly users: UsersRepository;
  private readonly auth: AuthService;
  private readonly orgs: OrgsService;
  private readonly sessions: SessionsService;
  private readonly audit: AuditService;
  private readonly clock: Clock;
  private readonly config: Config;

  constructor(deps: InvitationsServiceDeps) {
    this.repo = deps.repo;
    this.users = deps.users;
    this.auth = deps.auth;
    this.orgs = deps.orgs;
    this.sessions = deps.sessions;
    this.audit = deps.audit;
    this.clock = deps.clock;
    this.config = deps.config;
  }

  async create(caller: Caller, orgId: string, input: CreateInvitationRequest): Promise<CreatedInvitation> {
    const scope = await this.orgs.scopeFor(caller.principal.userId);
    const callerRole = scope.require(orgId, 'admin', 'Organization');
    if (input.role === 'owner' && callerRole !== 'owner') {
      throw new ForbiddenError('forbidden', 'Only an owner can invite an owner');
    }
    const now = this.clock.now();
    const token = newSecret(INVITATION_TOKEN_PREFIX, INVITATION_TOKEN_BYTES);
    const row: InvitationRow = {
      id: newId(now),
      org_id: orgId,
      email: input.email.trim().toLowerCase(),
      role: input.role,
      token_hash: sha256Hex(token),
      created_at: now,
      expires_at: now + (input.expiresInHours ?? INVITATION_EXPIRES_IN_HOURS_DEFAULT) * HOUR_MS,
      created_by: caller.principal.userId,
      accepted_at: null,
      accepted_by: null,
      revoked_at: null,
    };
    await this.repo.insert(row);
    await this.audit.record({
      actor: auditActor(caller.principal),
      action: 'invitation.create',
      target: { type: 'invitation', id: row.id },
      orgId,
      ip: caller.ip,
      details: { email: row.email, role: row.role, expiresAt: new Date(row.expires_at).toISOString() },
    });
    return {
      row: { ...row, created_by_email: caller.principal.email },
      token,
      url: `${this.config.publicUrl}/invite/${token}`,
    };
  }

  async listPending(caller: Caller, orgId: string): Promise<InvitationListRow[]> {
    const scope = await this.orgs.scopeFor(caller.principal.userId);
    scope.require(orgId, 'admin', 'Organization');
    return this.repo.listPending(orgId);
  }

  async revoke(caller: Caller, orgId: string, invitationId: string): Promise<void> {
    const scope = await this.orgs.scopeFor(caller.principal.userId);
    scope.require(orgId, 'admin', 'Organization');
    const revoked = await this.repo.revoke(orgId, invitationId, this.clock.now());
    if (revoked === undefined) throw notFound();
    await this.audit.record({
      actor: auditActor(caller.principal),
      action: 'invitation.revoke',
      target: { type: 'invitation', id: revoked.id },
      orgId,
      ip: caller.ip,
      details: { email: revoked.email, role: revoked.role },
    });
  }

  /** What the invitee sees before accepting; 404 for an unknown or revoked link, 410 for a used or expired one. */
  async preview(token: string): Promise<InvitationPreview> {
    const row = await this.usable(token, this.clock.now());
    const user = await this.users.findByEmail(row.email);
    return { row, existingUser: user !== undefined };
  }

  /**
   * Accepts with a new password (no account with the email yet) or the existing account's
   * password, grants the role and signs the invitee in. The session of `previousCookie`, if any,
   * ends, as at sign-in.
   */
  async accept(
    token: string,
    password: string,
    client: ClientInfo,
    previousCookie?: string,
  ): Promise<AcceptedInvitation> {
    const invitation = await this.usable(token, this.clock.now());
    const credentials = { email: invitation.email, password };
    let acceptor: Acceptor;
    if ((await this.users.findByEmail(invitation.email)) === undefined) {
      acceptor = { kind: 'new', user: await this.auth.newUserRow(credentials) };
    } else {
      // An account created by a concurrent acceptance of this link commits together with the
      // link's accepted_at: look again, so the loser hears "used", not "wrong password".
      await this.usable(token, this.clock.now());
      const user = await this.auth.verifyCredentials(credentials, client, {
        action: 'invitation.accept',
        target: { type: 'invitation', id: invitation.id },
        orgId: invitation.org_id,
        message: 'The password is not correct for this account',
      });
      acceptor = { kind: 'existing', userId: user.id };
    }
    const result = await this.repo.accept(invitation, acceptor, this.clock.now());
    if (result.outcome === 'gone') {
      // Lost a race (or the clock passed the expiry meanwhile): say which, as the page would.
      await this.usable(token, this.clock.now());
      throw used();
    }
    if (result.outcome === 'email_taken') {
      throw new ConflictError(
        'email_taken',
        `An account for ${invitation.email} was created meanwhile; open the link again and enter its password`,
      );
    }
    if (previousCookie !== undefined) await this.sessions.revokeCookie(previousCookie);
    const session = await this.sessions.create(result.userId, client);
    await this.audit.record({
      actor: { type: 'user', id: result.userId, label: invitation.email },
      action: 'invitation.accept',
      target: { type: 'invitation', id: invitation.id },
      orgId: invitation.org_id,
      ip: client.ip,
      details: {
        email: invitation.email,
        role: invitation.role,
        newUser: acceptor.kind === 'new',
        previousRole: result.previousRole,
        effectiveRole: result.role,
      },
    });
    return { orgId: invitation.org_id, session };
  }

  /** The invitation of a token while it can still be accepted; throws the reason otherwise. */
  private async usable(token: string, nowMs: number): Promise<InvitationWithOrg> {
    const row = await this.repo.findByTokenHash(sha256Hex(token));
    if (row === undefined || row.revoked_at !== null) throw notFound();
    if (row.accepted_at !== null) throw used();
    if (row.expires_at <= nowMs) {
      throw new NiroError(410, 'invitation_expired', 'This invitation has expired; ask for a new one');
    }
    return row;
  }
}

function notFound(): NotFoundError {
  return new NotFoundError('Invitation', 'invitation_not_found');
}

function used(): NiroError {
  return new NiroError(410, 'invitation_used', 'This invitation has already been used; sign in instead');
}
