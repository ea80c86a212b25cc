import {
  Cluster,
  ClusterEventList,
  ClusterIdParams,
  ClusterList,
  ClusterNodeList,
  ClusterPodDetail,
  ClusterPodParams,
  ClusterPodsQuery,
  ClusterWorkloadList,
  CreateClusterRequest,
  CreateClusterResponse,
  EnrollmentInfo,
  ListClustersQuery,
  PodPage,
  UpdateClusterRequest,
} from '@niro/protocol';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { auditActor, requirePrincipal, SIGNED_IN } from '../auth/principal.js';
import type { AccessScope } from '../orgs/access.js';
import type { RequestContext } from './enrollment.service.js';
import { registerEnrollmentRoutes } from './enrollment.routes.js';

export function registerClusterRoutes(app: App, services: Services): void {
  const { clusters } = services;

  /** The caller, their org scope and the audit context of this request. */
  async function caller(req: FastifyRequest): Promise<{ scope: AccessScope; ctx: RequestContext }> {
    const principal = requirePrincipal(req);
    const scope = await services.orgs.scopeFor(principal.userId);
    return { scope, ctx: { actor: auditActor(principal), ip: req.ip } };
  }

  app.post(
    '/api/v1/clusters',
    {
      schema: {
        tags: ['clusters'],
        summary: 'Create a cluster and its first enrollment token',
        security: SIGNED_IN,
        body: CreateClusterRequest,
        response: { 201: CreateClusterResponse },
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      const created = await clusters.create(scope, req.body, ctx);
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );

  app.get(
    '/api/v1/clusters',
    {
      schema: {
        tags: ['clusters'],
        summary: 'List the clusters you can see',
        security: SIGNED_IN,
        querystring: ListClustersQuery,
        response: { 200: ClusterList },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return { items: await clusters.list(scope, req.query) };
    },
  );

  app.get(
    '/api/v1/clusters/:id',
    {
      schema: {
        tags: ['clusters'],
        summary: 'Get one cluster',
        security: SIGNED_IN,
        params: ClusterIdParams,
        response: { 200: Cluster },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return clusters.get(scope, req.params.id);
    },
  );

  app.patch(
    '/api/v1/clusters/:id',
    {
      schema: {
        tags: ['clusters'],
        summary: 'Rename a cluster or change its environment or labels (labels are replaced as a whole)',
        security: SIGNED_IN,
        params: ClusterIdParams,
        body: UpdateClusterRequest,
        response: { 200: Cluster },
      },
    },
    async (req) => {
      const { scope, ctx } = await caller(req);
      return clusters.update(scope, req.params.id, req.body, ctx);
    },
  );

  app.delete(
    '/api/v1/clusters/:id',
    {
      schema: {
        tags: ['clusters'],
        summary: 'Delete a cluster with its snapshot and tokens; its agent key stops working',
        security: SIGNED_IN,
        params: ClusterIdParams,
        response: { 204: Type.Null({ description: 'No content' }) },
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      await clusters.delete(scope, req.params.id, ctx);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/clusters/:id/enrollment-token',
    {
      schema: {
        tags: ['clusters'],
        summary: 'Issue a new enrollment token (re-enrollment replaces the agent key)',
        security: SIGNED_IN,
        params: ClusterIdParams,
        response: { 201: EnrollmentInfo },
      },
    },
    async (req, reply) => {
      const { scope, ctx } = await caller(req);
      const info = await clusters.issueEnrollmentToken(scope, req.params.id, ctx);
      return reply.code(201).header('cache-control', 'no-store').send(info);
    },
  );

  app.get(
    '/api/v1/clusters/:id/nodes',
    {
      schema: {
        tags: ['clusters'],
        summary: 'Nodes of a cluster as last reported',
        security: SIGNED_IN,
        params: ClusterIdParams,
        response: { 200: ClusterNodeList },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return { items: await clusters.nodes(scope, req.params.id) };
    },
  );

  app.get(
    '/api/v1/clusters/:id/pods',
    {
      schema: {
        tags: ['clusters'],
        summary: 'Pods of a cluster as last reported',
        security: SIGNED_IN,
        params: ClusterIdParams,
        querystring: ClusterPodsQuery,
        response: { 200: PodPage },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      const cluster = await clusters.find(scope, req.params.id);
      return services.fleet.pods(scope, { ...req.query, cluster: cluster.id });
    },
  );

  app.get(
    '/api/v1/clusters/:id/pods/:namespace/:pod',
    {
      schema: {
        tags: ['clusters'],
        summary: "One pod as last reported: its containers' state, requests and limits, and its usage",
        security: SIGNED_IN,
        params: ClusterPodParams,
        response: { 200: ClusterPodDetail },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      const { id, namespace, pod } = req.params;
      return clusters.pod(scope, id, namespace, pod);
    },
  );

  app.get(
    '/api/v1/clusters/:id/events',
    {
      schema: {
        tags: ['clusters'],
        summary: 'Recent Warning events of a cluster, newest first',
        security: SIGNED_IN,
        params: ClusterIdParams,
        response: { 200: ClusterEventList },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return { items: await clusters.events(scope, req.params.id) };
    },
  );

  app.get(
    '/api/v1/clusters/:id/workloads',
    {
      schema: {
        tags: ['clusters'],
        summary: 'Deployments, StatefulSets and DaemonSets of a cluster as last reported',
        security: SIGNED_IN,
        params: ClusterIdParams,
        response: { 200: ClusterWorkloadList },
      },
    },
    async (req) => {
      const { scope } = await caller(req);
      return { items: await clusters.workloads(scope, req.params.id) };
    },
  );

  registerEnrollmentRoutes(app, services);
}
