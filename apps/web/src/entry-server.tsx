import { Transform, type Readable } from 'node:stream';
import { renderToPipeableStream } from 'react-dom/server';
import { Document } from './app.js';
import { parseFleet, type FleetSnapshot } from './lib/fleet-data.js';
import { FLEET_ELEMENT_ID, type PageBoot } from './page-input.js';

/**
 * What the server's web module passes in. The fleet is the query for the serialized
 * GET /api/v1/fleet body and its ETag, started once the shell has left: the shell goes out
 * first, the fleet is streamed into the same response when the query settles.
 */
export type RenderInput = {
  boot: PageBoot;
  fleet: (() => Promise<{ body: string; etag: string }>) | null;
  assets: { scripts: string[]; styles: string[]; preloads?: string[] };
  onError: (err: unknown) => void;
};

/** Resolves with the HTML stream once the shell is ready (its first bytes can be sent at once). */
export function renderPage(input: RenderInput): Promise<Readable> {
  // The rows below the fold wait for the data to be written (the chunk carrying it), so the data
  // and the first screen of rows leave as one piece and the other rows follow.
  let releaseRest: () => void = () => undefined;
  const rest = new Promise<void>((release) => (releaseRest = release));
  const marker = `id="${FLEET_ELEMENT_ID}"`;
  let dataWritten = false;
  const out = new Transform({
    transform(chunk: Buffer | string, _encoding, done) {
      if (!dataWritten && String(chunk).includes(marker)) {
        dataWritten = true;
        setImmediate(releaseRest);
      }
      done(null, chunk);
    },
  });
  // The fleet is queried only once the shell has reached the socket: the stream is being read, and
  // then two check phases of the event loop, because the response's first write is handed to the
  // socket in the poll phase between them (with one, the first byte waited for the query: 9 ms
  // instead of 6 for 200 clusters). SQLite answers synchronously under its promise: a query started
  // earlier blocks the loop before the shell's first byte, and a fleet that settles within the same
  // turn has React render every row first: one late response, not a stream.
  const shellSent = new Promise<void>((release) => {
    const later = (): void => void setImmediate(() => void setImmediate(release));
    out.once('resume', later);
    out.once('close', later);
  });
  const query = input.fleet;
  const fleet: Promise<FleetSnapshot> | null =
    query === null
      ? null
      : shellSent.then(query).then(({ body, etag }) => ({
          fleet: parseFleet(JSON.parse(body)),
          etag,
          body,
          rest,
        }));
  // Never an unhandled rejection: a failed query surfaces through the Suspense boundary.
  fleet?.catch(() => undefined);
  return new Promise((resolve, reject) => {
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
