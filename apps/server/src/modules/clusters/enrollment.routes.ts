import { EnrollRequest, EnrollResponse } from '@niro/protocol';
import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';

/** An enrollment request is a few hundred bytes; anything much larger is not an agent. */
export const ENROLL_BODY_LIMIT_BYTES = 16 * 1024;

/** Agent protocol 3.1: exchange an enrollment token for an agent key (no user authentication). */
export function registerEnrollmentRoutes(app: App, services: Services): void {
  app.post(
    '/api/agent/v1/enroll',
    {
      bodyLimit: ENROLL_BODY_LIMIT_BYTES,
      schema: {
        tags: ['agent'],
        summary: 'Exchange a single-use enrollment token for an agent key',
        body: EnrollRequest,
        response: { 200: EnrollResponse },
      },
    },
    async (req) => {
      const reply = await services.clusters.enrollment.enroll(req.body, req.ip);
      req.log.info({ clusterId: reply.clusterId }, 'agent enrolled');
      return reply;
    },
  );
}
