import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string')
      return pkg.version;
  } catch {
    // Fall through: a copied-out build without its package.json still runs.
  }
  return '0.0.0';
}

/** The agent's version, from its package.json (reported at enrollment and in every heartbeat). */
export const AGENT_VERSION = readVersion();
