import {
  INCIDENT_TYPES,
  INCIDENTS_LIMIT_DEFAULT,
  INCIDENTS_LIMIT_MAX,
  type Incident,
  type IncidentDetail,
  type IncidentSeverity,
  type IncidentsQuery,
} from '@niro/protocol';
import { Option, type Command } from 'commander';
import { authenticatedClient, type GlobalOptions } from '../api.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { ago, count } from '../format.js';
import { findCluster } from './clusters.js';

const STATES = ['firing', 'acknowledged', 'resolved', 'open'] as const;
const SEVERITIES: readonly IncidentSeverity[] = ['low', 'medium', 'high'];
/** Log lines `incidents get` shows of the evidence; `-o json` has them all. */
const LOG_LINES_SHOWN = 10;
const EVENTS_SHOWN = 5;

type ListOptions = GlobalOptions & {
  state?: IncidentsQuery['state'];
  cluster?: string;
  type?: string;
  severity?: IncidentSeverity;
  limit: string;
};

/** "45s", "12m", "3h", "2d": how long ago `iso` was (a kubectl-style AGE). */
export function age(iso: string, now: number = Date.now()): string {
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** "2026-03-01 12:00:05" (UTC), short enough for a table. */
function stamp(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

const clusterOf = (i: Incident): string => i.clusterName ?? (i.clusterId === null ? '(fleet)' : i.clusterId);

// Evidence is stored JSON written by the server's detectors: read it field by field.
function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const records = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter(isRecord) : []);

function containerText(c: Record<string, unknown>): string {
  const parts = [str(c.name) ?? '?', str(c.state) ?? '?'];
  const reason = str(c.reason);
  if (reason !== undefined) parts.push(reason);
  const restarts = num(c.restarts);
  if (restarts !== undefined) parts.push(count(restarts, 'restart'));
  const last = str(c.lastTerminationReason);
  if (last !== undefined) parts.push(`last terminated: ${last}`);
  return parts.join(' ');
}

/** The evidence bundle as readable lines; unknown parts are left to `-o json`. */
export function evidenceLines(evidence: IncidentDetail['evidence']): string[] {
  if (evidence === null) return ['(none)'];
  const lines: string[] = [];
  const captured = str(evidence.capturedAt);
  if (captured !== undefined) lines.push(`Captured ${captured}`);

  const pods = records(evidence.pods);
  if (pods.length > 0) {
    lines.push(`Pods (${pods.length}):`);
    for (const p of pods) {
      const containers = records(p.containers).map(containerText).join('; ');
      lines.push(`  ${str(p.namespace) ?? '?'}/${str(p.name) ?? '?'} (${str(p.phase) ?? '?'}): ${containers || '-'}`);
    }
  }

  const restarts = records(evidence.restartHistory);
  if (restarts.length > 0) {
    lines.push(`Restart history (${restarts.length}):`);
    for (const r of restarts.slice(-EVENTS_SHOWN)) {
      const reason = str(r.reason);
      lines.push(
        `  ${str(r.at) ?? '?'}  ${str(r.pod) ?? '?'}/${str(r.container) ?? '?'}: ` +
          `${count(num(r.restarts) ?? 0, 'restart')}${reason === undefined ? '' : ` (${reason})`}`,
      );
    }
  }

  const events = records(evidence.events);
  if (events.length > 0) {
    lines.push(`Warning events (${events.length}):`);
    for (const e of events.slice(0, EVENTS_SHOWN)) {
      const obj = isRecord(e.involvedObject) ? e.involvedObject : {};
      const times = num(e.count);
      lines.push(
        `  ${str(e.reason) ?? '?'} ${str(obj.kind) ?? '?'}/${str(obj.name) ?? '?'}: ${str(e.message) ?? ''}` +
          `${times !== undefined && times > 1 ? ` (×${times})` : ''}`,
      );
    }
    if (events.length > EVENTS_SHOWN) lines.push(`  … ${events.length - EVENTS_SHOWN} more (-o json)`);
  }

  if (isRecord(evidence.node)) {
    const node = evidence.node;
    const conditions = records(node.conditions)
      .map(
        (c) =>
          `${str(c.type) ?? '?'}=${str(c.status) ?? '?'}${str(c.reason) === undefined ? '' : ` (${str(c.reason)})`}`,
      )
      .join(', ');
    lines.push(`Node: ${str(node.name) ?? '?'}${conditions === '' ? '' : `: ${conditions}`}`);
  }

  const drifted = records(evidence.drifted);
  if (drifted.length > 0) {
    lines.push(`Drifted objects (${drifted.length}):`);
    for (const d of drifted) {
      const ns = str(d.namespace);
      const fields = Array.isArray(d.fields) ? d.fields.filter((f) => typeof f === 'string') : [];
      lines.push(
        `  ${str(d.kind) ?? '?'}/${ns === undefined ? '' : `${ns}/`}${str(d.name) ?? '?'}: ${str(d.action) ?? '?'}` +
          `${fields.length > 0 ? ` (${fields.join(', ')})` : ''}`,
      );
    }
  }

  if (isRecord(evidence.logs)) {
    const logs = evidence.logs;
    const state = str(logs.state) ?? '?';
    const pod = str(logs.pod);
    if (state === 'captured') {
      const logLines = Array.isArray(logs.lines) ? logs.lines.filter((l) => typeof l === 'string') : [];
      lines.push(
        `Logs of ${pod ?? '?'} (last ${Math.min(LOG_LINES_SHOWN, logLines.length)} of ${count(logLines.length, 'line')}):`,
      );
      for (const l of logLines.slice(-LOG_LINES_SHOWN)) lines.push(`  | ${l}`);
    } else if (state === 'pending') {
      lines.push('Logs: being fetched from the agent');
    } else if (state === 'unavailable') {
      lines.push(`Logs: could not be fetched${pod === undefined ? '' : ` from ${pod}`}`);
    } else if (state === 'disabled') {
      lines.push('Logs: not captured (the cluster does not report the logs capability)');
    } else {
      lines.push(`Logs: ${state}`);
    }
  }
  return lines.length > 0 ? lines : ['(none)'];
}

function showIncident(ctx: CliContext, i: IncidentDetail): void {
  const now = Date.now();
  ctx.out.fields([
    ['ID', i.id],
    ['Title', i.title],
    ['Type', i.type],
    ['Severity', i.severity],
    ['State', i.state],
    ['Cluster', i.clusterId === null ? '(fleet-wide)' : `${i.clusterName ?? '?'} (${i.clusterId})`],
    ['Scope', i.scope],
    ['Opened', `${i.openedAt} (${ago(i.openedAt, now)})`],
    [
      'Acknowledged',
      i.acknowledgedAt === null
        ? '-'
        : `${i.acknowledgedAt}${i.acknowledgedBy === null ? '' : ` by ${i.acknowledgedBy}`}`,
    ],
    ['Resolved', i.resolvedAt ?? '-'],
  ]);
  ctx.out.line();
  ctx.out.line('Evidence:');
  for (const l of evidenceLines(i.evidence)) ctx.out.line(`  ${l}`);
  ctx.out.line();
  ctx.out.line('Timeline:');
  if (i.timeline.length === 0) {
    ctx.out.line('  (empty)');
    return;
  }
  const rows = i.timeline.map((e) => [stamp(e.at), e.kind, e.actor ?? 'niro', e.message]);
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  for (const r of rows) {
    ctx.out.line(`  ${r.map((cell, c) => (c < 3 ? cell.padEnd(widths[c] ?? 0) : cell)).join('   ')}`.trimEnd());
  }
}

export function registerIncidentCommands(program: Command, ctx: CliContext): void {
  const incidents = program
    .command('incidents')
    .alias('incident')
    .description('List, inspect, acknowledge and delete incidents');

  incidents
    .command('ls')
    .alias('list')
    .description('List the incidents you can see, newest first')
    .addOption(new Option('--state <state>', 'only this state (open: firing and acknowledged)').choices([...STATES]))
    .option('--cluster <name-or-id>', 'only this cluster')
    .addOption(new Option('--type <type>', 'only this type').choices([...INCIDENT_TYPES]))
    .addOption(new Option('--severity <severity>', 'this severity or above').choices([...SEVERITIES]))
    .option('--limit <n>', `at most this many (1 to ${INCIDENTS_LIMIT_MAX})`, String(INCIDENTS_LIMIT_DEFAULT))
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<ListOptions>();
      const limit = Number(opts.limit);
      if (!/^\d+$/.test(opts.limit) || limit < 1 || limit > INCIDENTS_LIMIT_MAX) {
        throw new UsageError(`--limit ${opts.limit}: use a whole number from 1 to ${INCIDENTS_LIMIT_MAX}`);
      }
      const api = await authenticatedClient(ctx, opts);
      const cluster = opts.cluster === undefined ? undefined : await findCluster(api, opts.cluster);
      const page = await api.listIncidents({
        state: opts.state,
        cluster: cluster?.id,
        type: opts.type,
        severity: opts.severity,
        limit,
      });
      if (opts.output === 'json') return ctx.out.json(page.items);
      if (page.items.length === 0) {
        const filtered = [opts.state, opts.cluster, opts.type, opts.severity].some((f) => f !== undefined);
        ctx.out.info(filtered ? 'No incidents match.' : 'No incidents.');
        return;
      }
      const now = Date.now();
      ctx.out.table(
        ['ID', 'SEVERITY', 'STATE', 'TYPE', 'CLUSTER', 'TITLE', 'OPENED', 'AGE'],
        page.items.map((i) => [
          i.id,
          i.severity,
          i.state,
          i.type,
          clusterOf(i),
          i.title,
          stamp(i.openedAt),
          age(i.openedAt, now),
        ]),
      );
      if (page.nextCursor !== null) {
        ctx.out.info(`Showing the newest ${page.items.length}; there are more (raise --limit or narrow the filters).`);
      }
    });

  incidents
    .command('get')
    .description('Show one incident: details, evidence and timeline')
    .argument('<id>', 'incident id (see niro incidents ls)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const api = await authenticatedClient(ctx, opts);
      const incident = await api.getIncident(id);
      if (opts.output === 'json') return ctx.out.json(incident);
      showIncident(ctx, incident);
    });

  incidents
    .command('ack')
    .alias('acknowledge')
    .description('Acknowledge an open incident: you are on it (it still resolves by itself)')
    .argument('<id>', 'incident id')
    .option('--note <text>', 'a note for the timeline')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions & { note?: string }>();
      const api = await authenticatedClient(ctx, opts);
      const incident = await api.acknowledgeIncident(id, opts.note);
      if (opts.output === 'json') return ctx.out.json(incident);
      ctx.out.info(`Acknowledged incident ${incident.id}: ${incident.title}.`);
    });

  incidents
    .command('rm')
    .alias('delete')
    .description('Delete a resolved incident (an open one cannot be deleted)')
    .argument('<id>', 'incident id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const api = await authenticatedClient(ctx, opts);
      await api.deleteIncident(id);
      ctx.out.info(`Deleted incident ${id}.`);
    });
}
