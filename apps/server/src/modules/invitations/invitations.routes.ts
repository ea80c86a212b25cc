import {
  AcceptedInvitation,
  AcceptInvitationRequest,
  CreatedInvitation,
  CreateInvitationRequest,
  InvitationList,
  InvitationParams,
  InvitationPreview,
  InvitationTokenParams,
  OrgIdParams,
} from '@niro/protocol';
import { Type } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { clientInfo } from '../auth/client-info.js';
import { requireCaller, SIGNED_IN } from '../auth/principal.js';
import { readSessionCookie, setSessionCookie } from '../auth/session-cookie.js';
import { toInvitationDto, toInvitationPreviewDto } from './invitations.dto.js';

const TAGS = ['orgs'];

export function registerInvitationRoutes(app: App, { invitations, clock, config }: Services): void {
  app.post(
    '/api/v1/orgs/:id/invitations',
    {
      schema: {
        tags: TAGS,
        summary: 'Invite someone by email (admin; owner to invite an owner); the link is in this reply only',
        security: SIGNED_IN,
        params: OrgIdParams,
        body: CreateInvitationRequest,
        response: { 201: CreatedInvitation },
      },
    },
    async (req, reply) => {
      const created = await invitations.create(requireCaller(req), req.params.id, req.body);
      return reply.code(201).send({
        invitation: toInvitationDto(created.row, clock.now()),
        url: created.url,
        token: created.token,
      });
    },
  );

  app.get(
    '/api/v1/orgs/:id/invitations',
    {
      schema: {
        tags: TAGS,
        summary: 'Pending invitations of an organization, newest first, expired ones marked (admin)',
        security: SIGNED_IN,
        params: OrgIdParams,
        response: { 200: InvitationList },
      },
    },
    async (req) => {
      const rows = await invitations.listPending(requireCaller(req), req.params.id);
      const now = clock.now();
      return { items: rows.map((row) => toInvitationDto(row, now)) };
    },
  );

  app.delete(
    '/api/v1/orgs/:id/invitations/:invitationId',
    {
      schema: {
        tags: TAGS,
        summary: 'Revoke a pending invitation; its link stops working at once (admin)',
        security: SIGNED_IN,
        params: InvitationParams,
        response: { 204: Type.Null({ description: 'No content' }) },
      },
    },
    async (req, reply) => {
      await invitations.revoke(requireCaller(req), req.params.id, req.params.invitationId);
      return reply.code(204).send(null);
    },
  );

  // The two public routes carry the token in their path: they log at warn only, so the
  // request line with the URL is never written.
  app.get(
    '/api/v1/invitations/:token',
    {
      logLevel: 'warn',
      schema: {
        tags: TAGS,
        summary: 'What an invitation link offers (public: the token is the credential)',
        description:
          '404 invitation_not_found for an unknown or revoked link, 410 invitation_expired or invitation_used.',
        params: InvitationTokenParams,
        response: { 200: InvitationPreview },
      },
    },
    async (req) => toInvitationPreviewDto(await invitations.preview(req.params.token)),
  );

  app.post(
    '/api/v1/invitations/:token/accept',
    {
      logLevel: 'warn',
      schema: {
        tags: TAGS,
        summary: 'Accept an invitation: create the account (or check its password), join the org, sign in',
        description:
          "Without an account for the email, the password becomes the new account's (at least 8 characters); otherwise it must be that account's password (401 invalid_credentials, rate-limited like sign-in). Single use. Sets the session cookie.",
        params: InvitationTokenParams,
        body: AcceptInvitationRequest,
        response: { 200: AcceptedInvitation },
      },
    },
    async (req, reply) => {
      const { orgId, session } = await invitations.accept(
        req.params.token,
        req.body.password,
        clientInfo(req),
        readSessionCookie(req, config),
      );
      setSessionCookie(reply, config, session);
      return reply.send({ orgId });
    },
  );
}
