import type { CreateRegistryRequest, Registry, RegistryList } from '@niro/protocol';
import { iso, isoOrNull, type Clock } from '../../clock.js';
import { ConflictError, NiroError, NotFoundError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { SecretBoxError, type SecretBox } from '../../lib/secret-box.js';
import type { Logger } from '../../logger.js';
import type { RequestContext } from '../clusters/enrollment.service.js';
import type { AccessScope } from '../orgs/access.js';
import type { RegistriesRepository, RegistryRow } from './registries.repository.js';
import { RegistryVerifyError, verifyRegistryCredential, type RegistryClientOptions } from './registry-client.js';
import { dockerConfigKey, parseRegistryServer } from './registry-server.js';

/** What a deployment needs to pull with a registry credential: a `kubernetes.io/dockerconfigjson` Secret. */
export type PullSecret = {
  /** Deterministic per registry: `niro-registry-<16 hex of its id>`. */
  secretName: string;
  server: string;
  /** The Secret's `.dockerconfigjson`: `{"auths": {"<server>": {username, password, auth}}}`. */
  dockerConfigJson: string;
};

/**
 * Container registry pull credentials (DESIGN 4.5). A credential is checked against the
 * registry's /v2/ endpoint before it is saved, sealed with the secret box (the row id as
 * context), and never returned: replies, audit entries and logs carry the server and username
 * only. Members of the org create, re-verify and delete; viewers list.
 */
export class RegistriesService {
  constructor(
    private readonly deps: {
      repo: RegistriesRepository;
      box: SecretBox;
      clock: Clock;
      logger: Logger;
      /** Timeouts and size cap of the verification requests (tests shorten them). */
      client?: RegistryClientOptions;
    },
  ) {}

  async list(scope: AccessScope): Promise<RegistryList> {
    const rows = await this.deps.repo.list(scope.orgIds);
    return { items: rows.map(toRegistry) };
  }

  async create(scope: AccessScope, input: CreateRegistryRequest, ctx: RequestContext): Promise<Registry> {
    const orgId = scope.targetOrg(input.orgId, 'member', 'Adding a registry');
    const name = input.name.trim();
    const target = parseRegistryServer(input.server);
    if (await this.deps.repo.nameTaken(orgId, name)) throw nameTaken(name);
    await this.check(target.server, () =>
      verifyRegistryCredential(target, { username: input.username, password: input.password }, this.deps.client),
    );
    const now = this.deps.clock.now();
    const id = newId(now);
    const row: RegistryRow = {
      id,
      org_id: orgId,
      name,
      server: target.server,
      username: input.username,
      secret: this.deps.box.encrypt(input.password, secretContext(id)),
      created_at: now,
      created_by: scope.userId,
      last_verified_at: now,
    };
    await this.deps.repo.transaction(async (tx) => {
      if ((await tx.registries.insert(row)) === 'name_taken') throw nameTaken(name);
      await tx.audit.record({
        actor: ctx.actor,
        action: 'registry.create',
        target: { type: 'registry', id },
        orgId,
        ip: ctx.ip,
        details: { name, server: row.server, username: row.username },
      });
    });
    this.deps.logger.info({ registryId: id, orgId, server: row.server }, 'registry credential added');
    return toRegistry(row);
  }

  /**
   * Checks the stored credential again. On success the row records the time, and a credential
   * sealed by an older key of the ring is re-sealed with the current one.
   */
  async verify(scope: AccessScope, id: string, ctx: RequestContext): Promise<Registry> {
    const row = await this.visible(scope, id);
    scope.require(row.org_id, 'member', 'Registry');
    const password = this.open(row);
    const target = parseRegistryServer(row.server);
    try {
      await this.check(row.server, () =>
        verifyRegistryCredential(target, { username: row.username, password }, this.deps.client),
      );
    } catch (err) {
      await this.deps.repo.transaction((tx) =>
        tx.audit.record({
          actor: ctx.actor,
          action: 'registry.verify',
          target: { type: 'registry', id },
          orgId: row.org_id,
          ip: ctx.ip,
          outcome: 'failure',
          details: { name: row.name, server: row.server, code: err instanceof NiroError ? err.code : 'error' },
        }),
      );
      throw err;
    }
    const now = this.deps.clock.now();
    const resealed = this.deps.box.isStale(row.secret) ? this.deps.box.encrypt(password, secretContext(id)) : undefined;
    if (!(await this.deps.repo.markVerified(id, now, resealed))) throw new NotFoundError('Registry');
    return toRegistry({ ...row, last_verified_at: now, ...(resealed === undefined ? {} : { secret: resealed }) });
  }

  async delete(scope: AccessScope, id: string, ctx: RequestContext): Promise<void> {
    const row = await this.visible(scope, id);
    scope.require(row.org_id, 'member', 'Registry');
    await this.deps.repo.transaction(async (tx) => {
      if (!(await tx.registries.delete(id))) throw new NotFoundError('Registry');
      await tx.audit.record({
        actor: ctx.actor,
        action: 'registry.delete',
        target: { type: 'registry', id },
        orgId: row.org_id,
        ip: ctx.ip,
        details: { name: row.name, server: row.server, username: row.username },
      });
    });
    this.deps.logger.info({ registryId: id, orgId: row.org_id }, 'registry credential deleted');
  }

  /**
   * The pull Secret of a registry for a deployment in one of `orgIds` (the deployment's org and
   * the orgs whose registries it may use). 404 when the registry is not one of theirs.
   */
  async pullSecretFor(registryId: string, orgIds: readonly string[]): Promise<PullSecret> {
    const row = await this.deps.repo.find(registryId);
    if (row === undefined || !orgIds.includes(row.org_id)) throw new NotFoundError('Registry');
    const password = this.open(row);
    const auth = Buffer.from(`${row.username}:${password}`, 'utf8').toString('base64');
    const dockerConfig = { auths: { [dockerConfigKey(row.server)]: { username: row.username, password, auth } } };
    return { secretName: pullSecretName(row.id), server: row.server, dockerConfigJson: JSON.stringify(dockerConfig) };
  }

  /** Runs a verification; its failure becomes a 422 with the reason (which never holds the secret). */
  private async check(server: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      if (!(err instanceof RegistryVerifyError)) throw err;
      this.deps.logger.info({ server, code: err.code, reason: err.reason }, 'registry credential not verified');
      const what =
        err.code === 'registry_auth_failed'
          ? `The registry ${server} did not accept the credential`
          : `The registry ${server} could not be checked`;
      throw new NiroError(422, err.code, `${what}: ${err.reason}`, { reason: err.reason });
    }
  }

  private async visible(scope: AccessScope, id: string): Promise<RegistryRow> {
    const row = await this.deps.repo.find(id);
    if (row === undefined || !scope.canSee(row.org_id)) throw new NotFoundError('Registry');
    return row;
  }

  private open(row: RegistryRow): string {
    try {
      return this.deps.box.decrypt(row.secret, secretContext(row.id));
    } catch (err) {
      if (!(err instanceof SecretBoxError)) throw err;
      throw new ConflictError(
        'registry_secret_unreadable',
        `The credential of registry "${row.name}" cannot be decrypted (${err.message}); put the key that sealed ` +
          'it back into NIRO_SECRET_KEY, or delete the registry and add it again',
      );
    }
  }
}

/** A Kubernetes Secret name, stable for the registry so re-applies update one Secret. */
export function pullSecretName(registryId: string): string {
  return `niro-registry-${registryId.replace(/-/g, '').slice(-16).toLowerCase()}`;
}

const secretContext = (id: string): string => `registry:${id}`;

const nameTaken = (name: string): ConflictError =>
  new ConflictError('registry_name_taken', `A registry named "${name}" already exists in this organization`, {
    fields: [{ field: 'body.name', message: 'is taken' }],
  });

function toRegistry(row: RegistryRow): Registry {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    server: row.server,
    username: row.username,
    createdAt: iso(row.created_at),
    lastVerifiedAt: isoOrNull(row.last_verified_at),
  };
}
