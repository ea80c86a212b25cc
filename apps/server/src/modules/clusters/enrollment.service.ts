import {
  AGENT_KEY_PREFIX,
  ENROLLMENT_TOKEN_PREFIX,
  type EnrollmentInfo,
  type EnrollRequest,
  type EnrollResponse,
} from '@niro/protocol';
import { iso, type Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import { UnauthorizedError } from '../../errors.js';
import { newId, newSecret, sha256Hex } from '../../lib/ids.js';
import type { AccessScope } from '../orgs/access.js';
import type { AuditActor, AuditService } from '../audit/audit.service.js';
import type { ClusterRow, ClustersRepository, EnrollmentTokenRow } from './clusters.repository.js';

/** Enrollment tokens are valid for one hour after they are issued (DESIGN 3.1). */
export const ENROLLMENT_TOKEN_TTL_MS = 60 * 60 * 1000;
/** 256 random bits (≥ 128 required), base64url after the prefix. */
const ENROLLMENT_TOKEN_BYTES = 32;
/** 256 random bits. */
const AGENT_KEY_BYTES = 32;

/** Who asks, for the audit trail. */
export type RequestContext = { actor: AuditActor; ip: string | null };

export type MintedToken = { row: EnrollmentTokenRow; info: EnrollmentInfo };

/**
 * The enrollment rules: a single-use token, valid for one hour, is exchanged once for an agent
 * key. Only SHA-256 hashes of tokens and keys are stored; neither is ever logged or audited.
 */
export class EnrollmentService {
  constructor(
    private readonly repo: ClustersRepository,
    private readonly clock: Clock,
    private readonly config: Config,
    private readonly audit: AuditService,
    /** Told, after the commit, when a cluster's previous agent key stops working. */
    private readonly onAgentKeyRevoked: (clusterId: string) => void = () => undefined,
  ) {}

  /** A fresh token for a cluster; the caller stores `row` (the secret is only in `info`). */
  mint(clusterId: string, createdBy: string | null): MintedToken {
    const now = this.clock.now();
    const token = newSecret(ENROLLMENT_TOKEN_PREFIX, ENROLLMENT_TOKEN_BYTES);
    const expiresAt = now + ENROLLMENT_TOKEN_TTL_MS;
    return {
      row: {
        id: newId(now),
        cluster_id: clusterId,
        token_hash: sha256Hex(token),
        created_at: now,
        expires_at: expiresAt,
        used_at: null,
        created_by: createdBy,
      },
      info: { token, expiresAt: iso(expiresAt), installCommand: this.installCommand(token) },
    };
  }

  installCommand(token: string): string {
    return `curl -fsSL ${this.config.publicUrl}/install.sh | NIRO_TOKEN=${token} sh`;
  }

  /** Issues a new token for re-enrollment (admin+); older unused tokens stop working. */
  async reissue(scope: AccessScope, cluster: ClusterRow, ctx: RequestContext): Promise<EnrollmentInfo> {
    scope.require(cluster.org_id, 'admin', 'Cluster');
    const minted = this.mint(cluster.id, scope.userId);
    await this.repo.replaceEnrollmentToken(minted.row);
    await this.audit.record({
      actor: ctx.actor,
      action: 'cluster.enrollment_token.create',
      target: { type: 'cluster', id: cluster.id },
      orgId: cluster.org_id,
      ip: ctx.ip,
      details: { tokenId: minted.row.id, expiresAt: minted.info.expiresAt },
    });
    return minted.info;
  }

  /** Exchanges a token for an agent key; a used, expired or unknown token changes nothing. */
  async enroll(req: EnrollRequest, ip: string | null): Promise<EnrollResponse> {
    const now = this.clock.now();
    const tokenHash = sha256Hex(req.token);
    const agentKey = newSecret(AGENT_KEY_PREFIX, AGENT_KEY_BYTES);
    const result = await this.repo.redeemEnrollmentToken(tokenHash, now, {
      agentKeyHash: sha256Hex(agentKey),
      clusterUid: req.cluster.uid,
      kubernetesVersion: req.cluster.kubernetesVersion,
      distribution: req.cluster.distribution,
      agentVersion: req.agent.version,
    });
    if (result === null) {
      await this.auditRefusal(tokenHash, now, ip);
      throw new UnauthorizedError(
        'enrollment_token_invalid',
        'The enrollment token is unknown, already used or expired; issue a new one from the dashboard',
      );
    }
    const { before, after } = result;
    if (before.agent_key_hash !== null) this.onAgentKeyRevoked(after.id);
    await this.audit.record({
      actor: { type: 'agent', id: after.id, label: after.name },
      action: 'cluster.enroll',
      target: { type: 'cluster', id: after.id },
      orgId: after.org_id,
      ip,
      details: {
        reenrolled: before.agent_key_hash !== null,
        agentVersion: req.agent.version,
        kubernetesVersion: req.cluster.kubernetesVersion,
        distribution: req.cluster.distribution,
      },
    });
    return {
      clusterId: after.id,
      agentKey,
      heartbeatIntervalSeconds: this.config.heartbeatIntervalSeconds,
    };
  }

  private async auditRefusal(tokenHash: string, now: number, ip: string | null): Promise<void> {
    const known = await this.repo.findTokenByHash(tokenHash);
    const reason =
      known === undefined
        ? 'unknown'
        : known.used_at !== null
          ? 'used'
          : known.expires_at <= now
            ? 'expired'
            : 'invalid';
    await this.audit.record({
      actor: { type: 'anonymous', id: null, label: null },
      action: 'cluster.enroll',
      outcome: 'failure',
      ...(known === undefined ? {} : { target: { type: 'cluster', id: known.cluster_id }, orgId: known.org_id }),
      ip,
      details: { reason, ...(known === undefined ? {} : { tokenId: known.id }) },
    });
  }
}
