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
  assets: { scripts: string[]; styles: string[]; preloads?: string[] };
  onError: (err: unknown) => void;
};
export type RenderPage = (input: RenderInput) => Promise<Readable>;

export type WebAsset = { file: string; contentType: string };

/** The built dashboard: the streaming renderer, the entry's script and styles, the files under /assets. */
export type WebBundle = {
  renderPage: RenderPage;
  entry: { scripts: string[]; styles: string[]; preloads: string[] };
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
  const chunks = new Map(Object.entries(manifest));
  const stringsOf = (chunk: object, key: string): string[] => {
    const v: unknown = key in chunk ? Reflect.get(chunk, key) : undefined;
    return Array.isArray(v) ? v.filter((c: unknown): c is string => typeof c === 'string') : [];
  };
  for (const chunk of chunks.values()) {
    if (typeof chunk !== 'object' || chunk === null || !('isEntry' in chunk) || chunk.isEntry !== true) continue;
    if (!('file' in chunk) || typeof chunk.file !== 'string') continue;
    // The entry's static imports, transitively: announced in the head (modulepreload) so the browser
    // fetches them with the entry instead of after it.
    const preloads: string[] = [];
    const seen = new Set<string>();
    const queue = stringsOf(chunk, 'imports');
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      if (seen.has(key)) continue;
      seen.add(key);
      const imported: unknown = chunks.get(key);
      if (typeof imported !== 'object' || imported === null || !('file' in imported)) continue;
      if (typeof imported.file === 'string') preloads.push(`/${imported.file}`);
      queue.push(...stringsOf(imported, 'imports'));
    }
    const css = stringsOf(chunk, 'css');
    return { scripts: [`/${chunk.file}`], styles: css.map((c) => `/${c}`), preloads };
  }
  return null;
}
