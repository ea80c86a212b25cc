import type { FleetSnapshot } from './lib/fleet-data.js';

/**
 * What the server decided to show; the same value is rendered on the server and hydrated in the
 * browser. `app` is every signed-in page (`path` is the URL's path and query the server rendered);
 * `invite` is the public page that accepts an invitation.
 */
export type PageBoot =
  | { page: 'login'; next: string; needsSetup: boolean; expired?: boolean }
  | { page: 'app'; email: string; path: string }
  | { page: 'invite'; token: string };

/** The boot value travels in the shell; the fleet (only on `/`) comes later in the same response. */
export type PageProps = { boot: PageBoot; fleet: Promise<FleetSnapshot> | null };

export const BOOT_ELEMENT_ID = 'niro-boot';
export const FLEET_ELEMENT_ID = 'niro-fleet-data';

/** JSON for an inline <script type="application/json">: `<` never appears raw, so `</script>` cannot close it. */
export const inlineJson = (json: string): string => json.replace(/</g, '\\u003c');

/** A same-site path to go to after signing in; anything else goes to the fleet. */
export function safeNext(next: string | null | undefined): string {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return '/';
  return next;
}
