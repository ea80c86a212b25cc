import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** apps/web/dist, the same four levels up from this file in src/ (tests) and in dist/ (built). */
export const DEFAULT_WEB_DIST_DIR = fileURLToPath(new URL('../../../../web/dist/', import.meta.url));

export const WEB_BUILD_COMMAND = 'npm run build';

/** The page the web bundle renders; mirrors apps/web/src/entry-server.tsx (RenderInput). */
export type PageBoot =
  | { page: 'login'; next: string; needsSetup: boolean; expired?: boolean }
  | { page: 'app'; email: string; path: string }
  | { page: 'invite'; token: string };

export type RenderInput = {
  boot: PageBoot;
  /** Called once the shell has left (see entry-server.tsx), so the query does not delay it. */
  fleet: (() => Promise<{ body: string; etag: string }>) | null;
  assets: { scripts: string[]; styles: string[] };
  onError: (err: unknown) => void;
};
export type RenderPage = (input: RenderInput) => Promise<Readable>;

export type WebAsset = { file: string; contentType: string };

/** The built dashboard: the streaming renderer, the entry's script and styles, the files under /assets. */
export type WebBundle = {
  renderPage: RenderPage;
  entry: { scripts: string[]; styles: string[] };
  assets: ReadonlyMap<string, WebAsset>;
};

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

const isRenderPage = (v: unknown): v is RenderPage => typeof v === 'function';

/**
 * Loads the output of `vite build` (dist/client with its manifest) and `vite build --ssr`
 * (dist/server/entry-server.js). Returns why not when either is missing, so the server can
 * still start and answer the pages with a 503 that names the build command.
 */
export async function loadWebBundle(distDir: string): Promise<{ bundle: WebBundle } | { missing: string }> {
  const manifestPath = path.join(distDir, 'client', '.vite', 'manifest.json');
  const serverEntry = path.join(distDir, 'server', 'entry-server.js');
  if (!fs.existsSync(manifestPath) || !fs.existsSync(serverEntry)) {
    return { missing: `the dashboard is not built (no ${path.relative(process.cwd(), distDir) || distDir})` };
  }
  const manifest: unknown = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const entry = manifestEntry(manifest);
  if (entry === null) return { missing: `the dashboard build in ${distDir} has no entry in its manifest` };
  const mod: unknown = await import(/* @vite-ignore */ pathToFileURL(serverEntry).href);
  const renderPage = typeof mod === 'object' && mod !== null && 'renderPage' in mod ? mod.renderPage : undefined;
  if (!isRenderPage(renderPage)) return { missing: `${serverEntry} does not export renderPage` };

  const assets = new Map<string, WebAsset>();
  const assetDir = path.join(distDir, 'client', 'assets');
  for (const name of fs.existsSync(assetDir) ? fs.readdirSync(assetDir) : []) {
    const contentType = CONTENT_TYPES[path.extname(name)];
    if (contentType !== undefined) assets.set(name, { file: path.join(assetDir, name), contentType });
  }
  return { bundle: { renderPage, entry, assets } };
}

function manifestEntry(manifest: unknown): WebBundle['entry'] | null {
  if (typeof manifest !== 'object' || manifest === null) return null;
  for (const chunk of Object.values(manifest)) {
    if (typeof chunk !== 'object' || chunk === null || !('isEntry' in chunk) || chunk.isEntry !== true) continue;
    if (!('file' in chunk) || typeof chunk.file !== 'string') continue;
    const css =
      'css' in chunk && Array.isArray(chunk.css)
        ? chunk.css.filter((c: unknown): c is string => typeof c === 'string')
        : [];
    return { scripts: [`/${chunk.file}`], styles: css.map((c: string) => `/${c}`) };
  }
  return null;
}
