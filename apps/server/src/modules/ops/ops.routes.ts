import { sql } from 'kysely';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';

/** Liveness, readiness (the database answers) and Prometheus metrics. */
export function registerOpsRoutes(app: App, { database, metrics }: Services): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await sql`select 1`.execute(database.db);
      return { status: 'ready', database: database.dialect };
    } catch {
      return reply.code(503).send({ error: { code: 'not_ready', message: 'The database is not reachable' } });
    }
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
