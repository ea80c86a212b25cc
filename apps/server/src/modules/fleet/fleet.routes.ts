import type { App } from '../../lib/http.js';
import type { Services } from '../../services.js';

export function registerFleetRoutes(_app: App, _services: Services): void {
  // TODO(issue 2): routes
}
