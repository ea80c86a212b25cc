import {
  ApiTokenList,
  CreateApiTokenRequest,
  CreatedApiToken,
  LoginRequest,
  Me,
  SetupRequest,
  SetupStatus,
  TokenIdParams,
  TokenRequest,
  TokenResponse,
} from '@niro/protocol';
import { Type } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { toApiTokenDto, toMeDto } from './auth.dto.js';
import { clientInfo } from './client-info.js';
import { requireCaller, requirePrincipal, SIGNED_IN } from './principal.js';
import { clearSessionCookie, readSessionCookie, setSessionCookie } from './session-cookie.js';

const TAGS = ['auth'];
const NoContent = Type.Null({ description: 'No content' });

export function registerAuthRoutes(app: App, { auth, config }: Services): void {
  app.get(
    '/api/v1/setup',
    {
      schema: {
        tags: TAGS,
        summary: 'Whether a first administrator still has to be created',
        response: { 200: SetupStatus },
      },
    },
    async () => ({ needsSetup: await auth.needsSetup() }),
  );

  app.post(
    '/api/v1/setup',
    {
      schema: {
        tags: TAGS,
        summary: 'First-run setup: create the first administrator and root organization, and sign in',
        description:
          'Only while no user exists (409 already_set_up afterwards) and only from the server machine itself (403 setup_requires_loopback).',
        body: SetupRequest,
        response: { 201: Me },
      },
    },
    async (req, reply) => {
      const { user, session } = await auth.setup(req.body, clientInfo(req));
      setSessionCookie(reply, config, session);
      return reply.code(201).send(toMeDto(await auth.me(user.id)));
    },
  );

  app.post(
    '/api/v1/auth/login',
    {
      schema: {
        tags: TAGS,
        summary: 'Sign in with email and password; sets the session cookie (24 h)',
        body: LoginRequest,
        response: { 200: Me },
      },
    },
    async (req, reply) => {
      const { user, session } = await auth.login(req.body, clientInfo(req), readSessionCookie(req, config));
      setSessionCookie(reply, config, session);
      return reply.send(toMeDto(await auth.me(user.id)));
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      schema: {
        tags: TAGS,
        summary: 'End the browser session and clear its cookie',
        security: SIGNED_IN,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      if (req.principal !== null) await auth.logout(requireCaller(req));
      clearSessionCookie(reply, config);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/auth/token',
    {
      schema: {
        tags: TAGS,
        summary: 'Trade email and password for an API token (scripts, niro login); rate-limited like login',
        body: TokenRequest,
        response: { 201: TokenResponse },
      },
    },
    async (req, reply) => {
      const { token } = await auth.exchangeToken(req.body, clientInfo(req));
      return reply.code(201).send({ token });
    },
  );

  app.get(
    '/api/v1/me',
    {
      schema: {
        tags: TAGS,
        summary: 'The signed-in user and their organizations',
        security: SIGNED_IN,
        response: { 200: Me },
      },
    },
    async (req) => toMeDto(await auth.me(requirePrincipal(req).userId)),
  );

  app.post(
    '/api/v1/tokens',
    {
      schema: {
        tags: TAGS,
        summary: 'Create an API token; the secret is in this reply only',
        security: SIGNED_IN,
        body: CreateApiTokenRequest,
        response: { 201: CreatedApiToken },
      },
    },
    async (req, reply) => {
      const { token, row } = await auth.issueToken(requireCaller(req), req.body);
      return reply.code(201).send({ token, apiToken: toApiTokenDto(row) });
    },
  );

  app.get(
    '/api/v1/tokens',
    {
      schema: {
        tags: TAGS,
        summary: "The caller's active API tokens (never their secrets)",
        security: SIGNED_IN,
        response: { 200: ApiTokenList },
      },
    },
    async (req) => ({ items: (await auth.listTokens(requirePrincipal(req).userId)).map(toApiTokenDto) }),
  );

  app.delete(
    '/api/v1/tokens/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Revoke an API token; it stops working at once',
        security: SIGNED_IN,
        params: TokenIdParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await auth.revokeToken(requireCaller(req), req.params.id);
      return reply.code(204).send(null);
    },
  );
}
