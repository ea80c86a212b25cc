import { hydrateRoot } from 'react-dom/client';
import { Document } from './app.js';
import { parseFleet, type FleetSnapshot } from './lib/fleet-data.js';
import { BOOT_ELEMENT_ID, FLEET_ELEMENT_ID, safeNext, type PageBoot } from './page-input.js';

type Boot = { boot: PageBoot; assets: { scripts: string[]; styles: string[]; preloads: string[] } };

function readJson(id: string): unknown {
  const text = document.getElementById(id)?.textContent;
  return text === undefined || text === null || text === '' ? null : JSON.parse(text);
}

function readBoot(): Boot {
  const raw = readJson(BOOT_ELEMENT_ID);
  if (typeof raw !== 'object' || raw === null || !('boot' in raw) || !('assets' in raw)) {
    throw new Error('The page has no boot data');
  }
  const { boot, assets } = raw;
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s) => typeof s === 'string') : []);
  const a = typeof assets === 'object' && assets !== null ? assets : {};
  const parsedAssets = {
    scripts: strings('scripts' in a ? a.scripts : []),
    styles: strings('styles' in a ? a.styles : []),
    preloads: strings('preloads' in a ? a.preloads : []),
  };
  if (typeof boot !== 'object' || boot === null || !('page' in boot)) throw new Error('The page has no boot data');
  if (boot.page === 'app' && 'email' in boot && typeof boot.email === 'string') {
    const path = 'path' in boot && typeof boot.path === 'string' ? safeNext(boot.path) : '/';
    return { boot: { page: 'app', email: boot.email, path }, assets: parsedAssets };
  }
  if (boot.page === 'invite' && 'token' in boot && typeof boot.token === 'string') {
    return { boot: { page: 'invite', token: boot.token }, assets: parsedAssets };
  }
  const next = 'next' in boot && typeof boot.next === 'string' ? boot.next : '/';
  const needsSetup = 'needsSetup' in boot && boot.needsSetup === true;
  const expired = 'expired' in boot && boot.expired === true;
  return { boot: { page: 'login', next: safeNext(next), needsSetup, expired }, assets: parsedAssets };
}

function readStreamedFleet(): FleetSnapshot {
  const raw = readJson(FLEET_ELEMENT_ID);
  if (typeof raw !== 'object' || raw === null || !('fleet' in raw) || !('etag' in raw)) {
    throw new Error('The page has no streamed fleet data');
  }
  return { fleet: parseFleet(raw.fleet), etag: typeof raw.etag === 'string' ? raw.etag : '' };
}

/**
 * The fleet streamed with the page. React loads the bootstrap module with `async`, so it may run
 * while the response is still streaming: the shell hydrates at once and the fleet's boundary
 * once the document is complete. When the data is already in the DOM the promise is returned
 * settled (`status: 'fulfilled'`), which `use()` reads synchronously, so hydration does not suspend.
 */
function streamedFleet(): Promise<FleetSnapshot> {
  if (document.readyState !== 'loading' || document.getElementById(FLEET_ELEMENT_ID) !== null) {
    const value = readStreamedFleet();
    return Object.assign(Promise.resolve(value), { status: 'fulfilled', value });
  }
  return new Promise((resolve, reject) => {
    document.addEventListener('DOMContentLoaded', () => {
      try {
        resolve(readStreamedFleet());
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

const { boot, assets } = readBoot();
hydrateRoot(
  document,
  <Document
    boot={boot}
    fleet={boot.page === 'app' && boot.path.split('?')[0] === '/' ? streamedFleet() : null}
    assets={assets}
  />,
);
