import {
  ApplyDeploymentRequest,
  CreateDeploymentRequest,
  DEPLOYMENT_MANIFESTS_MAX_BYTES,
  Deployment,
  DeploymentIdParams,
  DeploymentList,
  DeploymentRevision,
  DeploymentRevisionList,
  DeploymentRevisionParams,
  ListDeploymentsQuery,
  RollbackDeploymentRequest,
  UpdateDeploymentRequest,
} from '@niro/protocol';
import type { FastifyRequest } from 'fastify';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { auditActor, requirePrincipal, SIGNED_IN } from '../auth/principal.js';
import type { RequestContext } from '../clusters/enrollment.service.js';
import type { AccessScope } from '../orgs/access.js';

/** Room for the JSON around the largest allowed manifests (a form is far smaller). */
const BODY_LIMIT = DEPLOYMENT_MANIFESTS_MAX_BYTES + 256 * 1024;

/** Deployments (DESIGN 4.5): members write, viewers read. */
export function registerDeploymentRoutes(app: App, services: Services): void {
  const { deployments } = services;

  async function caller(req: FastifyRequest): Promise<{ scope: AccessScope; ctx: RequestContext }> {
    const principal = requirePrincipal(req);
    const scope = await services.orgs.scopeFor(principal.userId);
    return { scope, ctx: { actor: auditActor(principal), ip: req.ip } };
  }

  app.get(
    '/api/v1/deployments',
    {
      schema: {
        tags: ['deployments'],
        summary: 'Managed deployments, by cluster, namespace and name',
        description: 'Archived deployments (deleted, or no longer managed) only with archived=true.',
        security: SIGNED_IN,
        querystring: ListDeploymentsQuery,
        response: { 200: DeploymentList },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return deployments.list(scope, req.query);
    },
  );

  app.post(
    '/api/v1/deployments',
    {
      bodyLimit: BODY_LIMIT,
      schema: {
        tags: ['deployments'],
        summary: 'Create a deployment from a builder form, YAML or a Git location, and apply it',
        description:
          'Needs the member role on the cluster. Unless apply is false, the manifests are built (and for Git ' +
          'fetched), checked by the policy engine (advisory: findings are stored, never block), stored as ' +
          'revision 1 and sent to the agent as an apply command; the reply has status pending. The cluster must ' +
          'report the apply capability (409 capability_disabled says how to enable it). Objects must be in the ' +
          "deployment's namespace or cluster-scoped.",
        security: SIGNED_IN,
        body: CreateDeploymentRequest,
        response: { 201: Deployment },
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      return reply.code(201).send(await deployments.create(scope, req.body, ctx));
    },
  );

  app.get(
    '/api/v1/deployments/:id',
    {
      schema: {
        tags: ['deployments'],
        summary: 'One deployment with its status, rollout progress (pods included) and drift',
        security: SIGNED_IN,
        params: DeploymentIdParams,
        response: { 200: Deployment },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return deployments.get(scope, req.params.id);
    },
  );

  app.patch(
    '/api/v1/deployments/:id',
    {
      bodyLimit: BODY_LIMIT,
      schema: {
        tags: ['deployments'],
        summary: 'Change the source of a deployment (and apply it with apply: true)',
        description:
          'Needs the member role. For a Git source without credential, a stored credential is kept. The cluster ' +
          'and namespace cannot change: create another deployment.',
        security: SIGNED_IN,
        params: DeploymentIdParams,
        body: UpdateDeploymentRequest,
        response: { 200: Deployment },
      },
    },
    async (req) => {
      const { scope, ctx } = await caller(req);
      return deployments.update(scope, req.params.id, req.body, ctx);
    },
  );

  app.delete(
    '/api/v1/deployments/:id',
    {
      schema: {
        tags: ['deployments'],
        summary: 'Delete the deployment and every object it applied',
        description:
          'Needs the member role. Sends a delete command for the objects labelled with the deployment id ' +
          '(lifecycle deleting); once the agent reports them gone, the deployment is archived as deleted. ' +
          'To keep the objects running, use …/unmanage instead.',
        security: SIGNED_IN,
        params: DeploymentIdParams,
        response: { 202: Deployment },
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      return reply.code(202).send(await deployments.remove(scope, req.params.id, ctx));
    },
  );

  app.post(
    '/api/v1/deployments/:id/unmanage',
    {
      schema: {
        tags: ['deployments'],
        summary: 'Stop managing the deployment; its objects keep running',
        security: SIGNED_IN,
        params: DeploymentIdParams,
        response: { 200: Deployment },
      },
    },
    async (req) => {
      const { scope, ctx } = await caller(req);
      return deployments.unmanage(scope, req.params.id, ctx);
    },
  );

  app.post(
    '/api/v1/deployments/:id/apply',
    {
      schema: {
        tags: ['deployments'],
        summary: 'Apply the current source as a new revision',
        description:
          'A Git source is fetched again. prune (default true) deletes objects of earlier revisions that this ' +
          'one no longer has. The reply has status pending; poll the deployment for the result and the rollout.',
        security: SIGNED_IN,
        params: DeploymentIdParams,
        body: ApplyDeploymentRequest,
        response: { 202: Deployment },
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      return reply.code(202).send(await deployments.apply(scope, req.params.id, req.body ?? {}, ctx));
    },
  );

  app.post(
    '/api/v1/deployments/:id/rollback',
    {
      schema: {
        tags: ['deployments'],
        summary: 'Apply an earlier revision again, as a new revision, with prune',
        security: SIGNED_IN,
        params: DeploymentIdParams,
        body: RollbackDeploymentRequest,
        response: { 202: Deployment },
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      return reply.code(202).send(await deployments.rollback(scope, req.params.id, req.body, ctx));
    },
  );

  app.post(
    '/api/v1/deployments/:id/diff',
    {
      schema: {
        tags: ['deployments'],
        summary: 'Compare the live objects with the applied revision now (drift check)',
        description:
          'Also done every NIRO_DRIFT_INTERVAL (5 minutes by default). drift.state is checking until the agent answers.',
        security: SIGNED_IN,
        params: DeploymentIdParams,
        response: { 202: Deployment },
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      return reply.code(202).send(await deployments.checkDrift(scope, req.params.id, ctx));
    },
  );

  app.get(
    '/api/v1/deployments/:id/revisions',
    {
      schema: {
        tags: ['deployments'],
        summary: 'Revisions of a deployment, newest first (without manifests)',
        security: SIGNED_IN,
        params: DeploymentIdParams,
        response: { 200: DeploymentRevisionList },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return deployments.revisions(scope, req.params.id);
    },
  );

  app.get(
    '/api/v1/deployments/:id/revisions/:revision',
    {
      schema: {
        tags: ['deployments'],
        summary: 'One revision: its manifests, policy findings and per-object results',
        security: SIGNED_IN,
        params: DeploymentRevisionParams,
        response: { 200: DeploymentRevision },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return deployments.revision(scope, req.params.id, req.params.revision);
    },
  );
}
