import {
  AddMemberRequest,
  CreateOrgRequest,
  Org,
  OrgIdParams,
  OrgList,
  OrgMember,
  OrgMemberList,
  OrgMemberParams,
  UpdateOrgRequest,
} from '@niro/protocol';
import { Type } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { requireCaller, requirePrincipal, SIGNED_IN } from '../auth/principal.js';
import { toOrgDto, toOrgMemberDto } from './orgs.dto.js';

const TAGS = ['orgs'];

export function registerOrgRoutes(app: App, { orgs }: Services): void {
  app.get(
    '/api/v1/orgs',
    {
      schema: {
        tags: TAGS,
        summary: 'Organizations the caller can see (their own and the subtrees below), with their effective role',
        security: SIGNED_IN,
        response: { 200: OrgList },
      },
    },
    async (req) => ({ items: (await orgs.listForUser(requirePrincipal(req).userId)).map(toOrgDto) }),
  );

  app.post(
    '/api/v1/orgs',
    {
      schema: {
        tags: TAGS,
        summary: 'Create an organization; a child needs admin on its parent. The creator becomes owner.',
        security: SIGNED_IN,
        body: CreateOrgRequest,
        response: { 201: Org },
      },
    },
    async (req, reply) => reply.code(201).send(toOrgDto(await orgs.createOrg(requireCaller(req), req.body))),
  );

  app.get(
    '/api/v1/orgs/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'One organization',
        security: SIGNED_IN,
        params: OrgIdParams,
        response: { 200: Org },
      },
    },
    async (req) => toOrgDto(await orgs.getOrg(requireCaller(req), req.params.id)),
  );

  app.patch(
    '/api/v1/orgs/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Rename an organization (admin)',
        security: SIGNED_IN,
        params: OrgIdParams,
        body: UpdateOrgRequest,
        response: { 200: Org },
      },
    },
    async (req) => toOrgDto(await orgs.renameOrg(requireCaller(req), req.params.id, req.body.name)),
  );

  app.get(
    '/api/v1/orgs/:id/members',
    {
      schema: {
        tags: TAGS,
        summary: 'Direct members of an organization',
        security: SIGNED_IN,
        params: OrgIdParams,
        response: { 200: OrgMemberList },
      },
    },
    async (req) => ({ items: (await orgs.listMembers(requireCaller(req), req.params.id)).map(toOrgMemberDto) }),
  );

  app.post(
    '/api/v1/orgs/:id/members',
    {
      schema: {
        tags: TAGS,
        summary: 'Add an existing user to an organization, or change their role (admin; owner for owners)',
        security: SIGNED_IN,
        params: OrgIdParams,
        body: AddMemberRequest,
        response: { 200: OrgMember, 201: OrgMember },
      },
    },
    async (req, reply) => {
      const { member, created } = await orgs.putMember(requireCaller(req), req.params.id, req.body);
      return reply.code(created ? 201 : 200).send(toOrgMemberDto(member));
    },
  );

  app.delete(
    '/api/v1/orgs/:id/members/:userId',
    {
      schema: {
        tags: TAGS,
        summary: 'Remove a member (admin; owner for owners); the last owner cannot be removed',
        security: SIGNED_IN,
        params: OrgMemberParams,
        response: { 204: Type.Null({ description: 'No content' }) },
      },
    },
    async (req, reply) => {
      await orgs.removeMember(requireCaller(req), req.params.id, req.params.userId);
      return reply.code(204).send(null);
    },
  );
}
