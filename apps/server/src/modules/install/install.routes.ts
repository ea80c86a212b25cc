import { CAPABILITY_GRANTS, CAPABILITY_NAMES, type CapabilityName } from '@niro/protocol';
import { Type, type TSchema } from 'typebox';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';
import { capabilitiesFrom, renderAgentManifest } from './install-manifest.js';
import { renderInstallScript } from './install-script.js';

const Flag = Type.Unsafe<'0' | '1'>({ type: 'string', enum: ['0', '1'] });

/** One optional `0|1` query parameter per capability, named as the shared grants say. */
const ManifestQuery = Type.Object(
  Object.fromEntries(
    CAPABILITY_NAMES.map((name): [string, TSchema] => {
      const grant = CAPABILITY_GRANTS[name];
      return [
        grant.queryParam,
        Type.Optional({ ...Flag, description: `1 grants: ${grant.summary} (default ${grant.defaultOn ? 1 : 0})` }),
      ];
    }),
  ),
);

/**
 * Agent installation (DESIGN 3.4): the script and the manifest it applies. Public like any
 * download: neither holds a secret (the enrollment token stays on the user's command line).
 * Outside /api, so they stay out of the API reference, like /healthz.
 */
export function registerInstallRoutes(app: App, { config }: Services): void {
  const script = renderInstallScript(config.publicUrl);

  app.get('/install.sh', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-cache');
    return script;
  });

  app.get('/install/manifest.yaml', { schema: { hide: true, querystring: ManifestQuery } }, async (req, reply) => {
    const query: Record<string, unknown> = req.query;
    const flag = (name: CapabilityName): boolean => {
      const grant = CAPABILITY_GRANTS[name];
      const value = query[grant.queryParam];
      return value === undefined ? grant.defaultOn : value === '1';
    };
    reply.header('content-type', 'application/yaml; charset=utf-8').header('cache-control', 'no-cache');
    return renderAgentManifest({
      capabilities: capabilitiesFrom(flag),
      image: config.agentImage,
      serverUrl: config.publicUrl,
    });
  });
}
