import { useEffect, useRef, useState } from 'react';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { ApiError, apiFetch, errorText } from '../../lib/api.js';

export type LogEndReason = 'eof' | 'stopped' | 'error';

export type LogStreamState =
  | { phase: 'idle' }
  | { phase: 'connecting' }
  | { phase: 'streaming'; commandId: string }
  | { phase: 'ended'; reason: LogEndReason; message: string | null }
  | { phase: 'error'; code: string; message: string };

export type LogTarget = {
  clusterId: string;
  namespace: string;
  pod: string;
  container: string | null;
  tailLines: number;
  follow: boolean;
};

/** The API path of a pod's log stream (below /api/v1). */
export function logsPath(t: LogTarget, overrides: { tailLines?: number; follow?: boolean } = {}): string {
  const query = new URLSearchParams();
  if (t.container !== null) query.set('container', t.container);
  query.set('follow', (overrides.follow ?? t.follow) ? '1' : '0');
  query.set('tailLines', String(overrides.tailLines ?? t.tailLines));
  const seg = encodeURIComponent;
  return `/clusters/${seg(t.clusterId)}/pods/${seg(t.namespace)}/${seg(t.pod)}/logs?${query.toString()}`;
}

function parseJson(data: unknown): unknown {
  if (typeof data !== 'string') return undefined;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

// The event payloads of docs/api.md "Logs"; unknown fields are ignored.
const OpenEvent = Type.Object({ commandId: Type.String() });
const LinesEvent = Type.Array(Type.String());
const EndEvent = Type.Object({
  reason: Type.Union([Type.Literal('eof'), Type.Literal('stopped'), Type.Literal('error')]),
  message: Type.Optional(Type.String()),
});
const ErrorEvent = Type.Object({ code: Type.String(), message: Type.String() });

/**
 * Streams a pod's log with EventSource while `target` is set; `onLines` gets every batch in order.
 * A new target, a new `generation` (reconnect) or unmounting closes the previous stream. The
 * EventSource never reconnects by itself: a reconnect would start the tail again and repeat lines.
 */
export function useLogStream(
  target: LogTarget | null,
  generation: number,
  onLines: (lines: string[]) => void,
): LogStreamState {
  const [state, setState] = useState<LogStreamState>({ phase: 'idle' });
  const onLinesRef = useRef(onLines);
  onLinesRef.current = onLines;
  const path = target === null ? null : logsPath(target);
  const probePath = target === null ? null : logsPath(target, { tailLines: 0, follow: false });

  useEffect(() => {
    if (path === null || probePath === null) {
      setState({ phase: 'idle' });
      return;
    }
    let live = true;
    let opened = false;
    const probe = new AbortController();
    setState({ phase: 'connecting' });
    const es = new EventSource(`/api/v1${path}`);
    const finish = (next: LogStreamState): void => {
      es.close();
      if (live) setState(next);
    };

    es.addEventListener('open', (e) => {
      // The native `open` (connection up) has no data; the server's `open` event carries the command.
      if (!(e instanceof MessageEvent)) return;
      opened = true;
      const data = parseJson(e.data);
      setState({ phase: 'streaming', commandId: Value.Check(OpenEvent, data) ? data.commandId : '' });
    });
    es.addEventListener('lines', (e) => {
      const lines = parseJson(e.data);
      if (live && Value.Check(LinesEvent, lines)) onLinesRef.current(lines);
    });
    es.addEventListener('end', (e) => {
      const data = parseJson(e.data);
      finish(
        Value.Check(EndEvent, data)
          ? { phase: 'ended', reason: data.reason, message: data.message ?? null }
          : { phase: 'ended', reason: 'eof', message: null },
      );
    });
    es.addEventListener('error', (e) => {
      if (e instanceof MessageEvent && typeof e.data === 'string') {
        // The server's own `error` event: the stream failed or never started.
        const data = parseJson(e.data);
        finish(
          Value.Check(ErrorEvent, data)
            ? { phase: 'error', code: data.code, message: data.message }
            : { phase: 'error', code: 'error', message: 'The log stream failed.' },
        );
        return;
      }
      es.close();
      if (!live) return;
      if (opened) {
        setState({
          phase: 'error',
          code: 'connection_lost',
          message: 'The connection to the server was lost. Reconnect to read the log again.',
        });
        return;
      }
      // Refused before it started (a JSON error, which EventSource does not expose): ask once with
      // fetch for the server's own words.
      void apiFetch(probePath, { signal: probe.signal })
        .then(() => {
          probe.abort();
          if (live) {
            setState({ phase: 'error', code: 'network', message: 'The log stream could not be opened. Try again.' });
          }
        })
        .catch((err: unknown) => {
          if (!live) return;
          setState({ phase: 'error', code: err instanceof ApiError ? err.code : 'error', message: errorText(err) });
        });
    });

    return () => {
      live = false;
      probe.abort();
      es.close();
    };
  }, [path, probePath, generation]);

  return state;
}
