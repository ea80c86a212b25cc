import { PassThrough, type Readable } from 'node:stream';
import { renderToPipeableStream } from 'react-dom/server';
import { Document } from './app.js';
import { parseFleet, type FleetSnapshot } from './lib/fleet-data.js';
import type { PageBoot } from './page-input.js';

/**
 * What the server's web module passes in. The fleet is the serialized GET /api/v1/fleet body and
 * its ETag, still being queried when rendering starts: the shell goes out first, the fleet is
 * streamed into the same response when the promise settles.
 */
export type RenderInput = {
  boot: PageBoot;
  fleet: Promise<{ body: string; etag: string }> | null;
  assets: { scripts: string[]; styles: string[] };
  onError: (err: unknown) => void;
};

/** Resolves with the HTML stream once the shell is ready (its first bytes can be sent at once). */
export function renderPage(input: RenderInput): Promise<Readable> {
  const fleet: Promise<FleetSnapshot> | null =
    input.fleet === null ? null : input.fleet.then(({ body, etag }) => ({ fleet: parseFleet(JSON.parse(body)), etag }));
  // Never an unhandled rejection: a failed query surfaces through the Suspense boundary.
  fleet?.catch(() => undefined);
  return new Promise((resolve, reject) => {
    const out = new PassThrough();
    const { pipe } = renderToPipeableStream(<Document boot={input.boot} fleet={fleet} assets={input.assets} />, {
      bootstrapModules: input.assets.scripts,
      onShellReady() {
        pipe(out);
        resolve(out);
      },
      onShellError: reject,
      onError: input.onError,
    });
  });
}
