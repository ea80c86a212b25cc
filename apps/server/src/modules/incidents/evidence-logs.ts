import type { LogEndReason } from '@niro/protocol';
import type { LogsService, LogSink, LogStream } from '../logs/logs.service.js';
import { AccessScope } from '../orgs/access.js';
import type { EvidenceLogFetcher } from './incidents.service.js';

/** How long an evidence capture waits for the agent before giving up on log lines. */
const EVIDENCE_LOGS_TIMEOUT_MS = 60_000;

/**
 * The last lines of a pod's log through the ordinary log stream (a `logs` command without
 * follow), on behalf of Niro itself: a scope with the member role in the cluster's org only.
 */
export const fetchEvidenceLogs = (
  logs: LogsService,
  request: Parameters<EvidenceLogFetcher>[0],
): Promise<string[] | null> =>
  new Promise((resolve) => {
    const lines: string[] = [];
    let done = false;
    let stream: LogStream | null = null;
    const finish = (value: string[] | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // A stream still running (the timeout hit first) is stopped at the agent.
      if (value === null) stream?.readerGone();
      resolve(value);
    };
    const timer = setTimeout(() => finish(null), EVIDENCE_LOGS_TIMEOUT_MS);
    timer.unref();
    const scope = new AccessScope('system:incidents', new Map([[request.orgId, 'member']]));
    const sink: LogSink = {
      lines(batch: string[]) {
        lines.push(...batch);
        if (lines.length > request.tailLines) lines.splice(0, lines.length - request.tailLines);
        return true;
      },
      onceDrain() {
        // lines() never reports a full buffer.
      },
      bufferedBytes: () => 0,
      end(_reason: LogEndReason) {
        finish(lines);
      },
      error() {
        finish(lines.length > 0 ? lines : null);
      },
    };
    logs
      .open(
        scope,
        request.clusterId,
        { namespace: request.namespace, pod: request.pod, tailLines: request.tailLines, follow: false },
        { actor: { type: 'system', id: null, label: 'incident evidence' }, ip: null },
      )
      .then((opened) => {
        stream = opened;
        if (done) opened.readerGone();
        else opened.attach(sink);
      })
      .catch(() => finish(null));
  });
