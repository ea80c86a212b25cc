import type {
  Cluster,
  ClusterEventList,
  Command,
  CommandList,
  CreateCommandRequest,
  ListCommandsQuery,
  ClusterNodeList,
  ClusterWorkloadList,
  PodPage,
  CreateClusterRequest,
  CreateClusterResponse,
  CreatedApiToken,
  CreatedNotificationChannel,
  CreateNotificationChannelRequest,
  EvaluatePolicyRequest,
  EvaluatePolicyResponse,
  FindingPage,
  FindingsQuery,
  FleetResponse,
  ImageRow,
  IncidentDetail,
  IncidentPage,
  IncidentsQuery,
  Me,
  NotificationChannel,
  NotificationChannelList,
  NotificationTestResult,
  PodRow,
  PolicyRuleList,
  UpdateClusterRequest,
  UpdateNotificationChannelRequest,
} from './api.js';
import type { EnrollRequest, EnrollResponse, Heartbeat, HeartbeatReply } from './agent.js';
import type { Static, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import {
  Deployment,
  DeploymentList,
  DeploymentRevision,
  DeploymentRevisionList,
  type ApplyDeploymentRequest,
  type CreateDeploymentRequest,
  type ListDeploymentsQuery,
  type UpdateDeploymentRequest,
} from './deployments.js';

/** An error reply from the Niro API, with its stable code. */
export class NiroApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'NiroApiError';
  }
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export type ApiClientOptions = {
  baseUrl: string;
  token?: string;
  fetch?: FetchLike;
  userAgent?: string;
};

type Query = Record<string, string | number | boolean | undefined>;

/** One server-sent event of a pod log stream (`GET …/pods/{namespace}/{pod}/logs`). */
export type LogStreamEvent =
  | { type: 'open'; streamId: string; commandId: string }
  | { type: 'lines'; lines: string[] }
  | { type: 'end'; reason: string; message?: string }
  | { type: 'error'; code: string; message: string };

export type LogStreamOptions = {
  container?: string;
  follow?: boolean;
  tailLines?: number;
  /** Aborting it closes the stream, which stops it in the agent. */
  signal?: AbortSignal;
};

/** A small typed client for the HTTP API v1, used by the CLI, the simulator and tests. */
export class ApiClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  withToken(token: string): ApiClient {
    return new ApiClient({ ...this.options, token });
  }

  async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (this.options.userAgent) headers['user-agent'] = this.options.userAgent;
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await this.fetchImpl(url.toString(), init);
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!res.ok) {
      const err = readErrorBody(parsed);
      throw new NiroApiError(
        res.status,
        err?.code ?? 'http_error',
        err?.message ?? `${method} ${path} failed with HTTP ${res.status}`,
        err?.details,
      );
    }
    return parsed as T;
  }

  /** Like request(), and the reply must match `schema` (a server of another version may answer otherwise). */
  async requestChecked<S extends TSchema>(
    schema: S,
    method: string,
    path: string,
    body?: unknown,
    query?: Query,
  ): Promise<Static<S>> {
    const reply = await this.request<unknown>(method, path, body, query);
    if (!Value.Check(schema, reply)) {
      const first = Value.Errors(schema, reply)[0];
      throw new NiroApiError(
        502,
        'unexpected_response',
        `${method} ${path} answered with an unexpected body${first === undefined ? '' : ` (${first.instancePath || '/'}: ${first.message})`}`,
      );
    }
    return reply;
  }

  // Auth
  createToken(email: string, password: string, name: string): Promise<{ token: string }> {
    return this.request('POST', '/api/v1/auth/token', { email, password, name });
  }
  me(): Promise<Me> {
    return this.request('GET', '/api/v1/me');
  }
  createApiToken(name: string): Promise<CreatedApiToken> {
    return this.request('POST', '/api/v1/tokens', { name });
  }

  // Clusters
  createCluster(req: CreateClusterRequest): Promise<CreateClusterResponse> {
    return this.request('POST', '/api/v1/clusters', req);
  }
  listClusters(query?: Query): Promise<{ items: Cluster[] }> {
    return this.request('GET', '/api/v1/clusters', undefined, query);
  }
  getCluster(id: string): Promise<Cluster> {
    return this.request('GET', `/api/v1/clusters/${encodeURIComponent(id)}`);
  }
  updateCluster(id: string, req: UpdateClusterRequest): Promise<Cluster> {
    return this.request('PATCH', `/api/v1/clusters/${encodeURIComponent(id)}`, req);
  }
  deleteCluster(id: string): Promise<void> {
    return this.request('DELETE', `/api/v1/clusters/${encodeURIComponent(id)}`);
  }
  newEnrollmentToken(id: string): Promise<CreateClusterResponse['enrollment']> {
    return this.request('POST', `/api/v1/clusters/${encodeURIComponent(id)}/enrollment-token`, {});
  }
  fleet(): Promise<FleetResponse> {
    return this.request('GET', '/api/v1/fleet');
  }
  pods(query?: Query): Promise<{ items: PodRow[]; nextCursor: string | null }> {
    return this.request('GET', '/api/v1/pods', undefined, query);
  }
  images(query?: Query): Promise<{ items: ImageRow[] }> {
    return this.request('GET', '/api/v1/images', undefined, query);
  }
  clusterNodes(id: string): Promise<ClusterNodeList> {
    return this.request('GET', `/api/v1/clusters/${encodeURIComponent(id)}/nodes`);
  }
  clusterPods(id: string, query?: Query): Promise<PodPage> {
    return this.request('GET', `/api/v1/clusters/${encodeURIComponent(id)}/pods`, undefined, query);
  }
  clusterEvents(id: string): Promise<ClusterEventList> {
    return this.request('GET', `/api/v1/clusters/${encodeURIComponent(id)}/events`);
  }
  clusterWorkloads(id: string): Promise<ClusterWorkloadList> {
    return this.request('GET', `/api/v1/clusters/${encodeURIComponent(id)}/workloads`);
  }

  // Commands
  /** Queues a command; with an idempotencyKey already used on the cluster, returns the first command. */
  createCommand(clusterId: string, req: CreateCommandRequest): Promise<Command> {
    return this.request('POST', `/api/v1/clusters/${encodeURIComponent(clusterId)}/commands`, req);
  }
  getCommand(id: string): Promise<Command> {
    return this.request('GET', `/api/v1/commands/${encodeURIComponent(id)}`);
  }
  listCommands(clusterId: string, query?: ListCommandsQuery): Promise<CommandList> {
    return this.request('GET', `/api/v1/clusters/${encodeURIComponent(clusterId)}/commands`, undefined, query);
  }
  cancelCommand(id: string): Promise<Command> {
    return this.request('POST', `/api/v1/commands/${encodeURIComponent(id)}/cancel`);
  }

  // Policy
  policyRules(): Promise<PolicyRuleList> {
    return this.request('GET', '/api/v1/policy/rules');
  }
  /** Findings of manifests, without storing anything; unreadable documents come back in `errors`. */
  evaluatePolicy(req: EvaluatePolicyRequest): Promise<EvaluatePolicyResponse> {
    return this.request('POST', '/api/v1/policy/evaluate', req);
  }
  findings(query?: FindingsQuery): Promise<FindingPage> {
    return this.request('GET', '/api/v1/findings', undefined, query);
  }

  // Incidents
  /** Newest first; `severity` means this severity or above, `state: 'open'` firing and acknowledged. */
  listIncidents(query?: IncidentsQuery): Promise<IncidentPage> {
    return this.request('GET', '/api/v1/incidents', undefined, query);
  }
  getIncident(id: string): Promise<IncidentDetail> {
    return this.request('GET', `/api/v1/incidents/${encodeURIComponent(id)}`);
  }
  acknowledgeIncident(id: string, note?: string): Promise<IncidentDetail> {
    return this.request('POST', `/api/v1/incidents/${encodeURIComponent(id)}/ack`, note === undefined ? {} : { note });
  }
  /** Only a resolved incident can be deleted (409 `incident_open` otherwise). */
  deleteIncident(id: string): Promise<void> {
    return this.request('DELETE', `/api/v1/incidents/${encodeURIComponent(id)}`);
  }

  // Notification channels
  listNotificationChannels(): Promise<NotificationChannelList> {
    return this.request('GET', '/api/v1/notification-channels');
  }
  getNotificationChannel(id: string): Promise<NotificationChannel> {
    return this.request('GET', `/api/v1/notification-channels/${encodeURIComponent(id)}`);
  }
  /** A webhook's `signingSecret` is in this reply only. */
  createNotificationChannel(req: CreateNotificationChannelRequest): Promise<CreatedNotificationChannel> {
    return this.request('POST', '/api/v1/notification-channels', req);
  }
  updateNotificationChannel(id: string, req: UpdateNotificationChannelRequest): Promise<NotificationChannel> {
    return this.request('PATCH', `/api/v1/notification-channels/${encodeURIComponent(id)}`, req);
  }
  deleteNotificationChannel(id: string): Promise<void> {
    return this.request('DELETE', `/api/v1/notification-channels/${encodeURIComponent(id)}`);
  }
  /** Sends a test notification now; a receiver's refusal is `{ delivered: false, error }`, not a throw. */
  testNotificationChannel(id: string): Promise<NotificationTestResult> {
    return this.request('POST', `/api/v1/notification-channels/${encodeURIComponent(id)}/test`);
  }

  // Deployments
  listDeployments(query?: ListDeploymentsQuery): Promise<DeploymentList> {
    return this.requestChecked(DeploymentList, 'GET', '/api/v1/deployments', undefined, query);
  }
  getDeployment(id: string): Promise<Deployment> {
    return this.requestChecked(Deployment, 'GET', `/api/v1/deployments/${encodeURIComponent(id)}`);
  }
  /** Creates and, unless `apply: false`, applies revision 1 (status pending until the agent answers). */
  createDeployment(req: CreateDeploymentRequest): Promise<Deployment> {
    return this.requestChecked(Deployment, 'POST', '/api/v1/deployments', req);
  }
  /** Changes the source; with `apply: true` it is applied as a new revision at once. */
  updateDeployment(id: string, req: UpdateDeploymentRequest): Promise<Deployment> {
    return this.requestChecked(Deployment, 'PATCH', `/api/v1/deployments/${encodeURIComponent(id)}`, req);
  }
  applyDeployment(id: string, req: ApplyDeploymentRequest = {}): Promise<Deployment> {
    return this.requestChecked(Deployment, 'POST', `/api/v1/deployments/${encodeURIComponent(id)}/apply`, req);
  }
  /** Applies an earlier revision again as a new revision (with prune). */
  rollbackDeployment(id: string, revision: number): Promise<Deployment> {
    return this.requestChecked(Deployment, 'POST', `/api/v1/deployments/${encodeURIComponent(id)}/rollback`, {
      revision,
    });
  }
  /** Newest first, without manifests. */
  deploymentRevisions(id: string): Promise<DeploymentRevisionList> {
    return this.requestChecked(
      DeploymentRevisionList,
      'GET',
      `/api/v1/deployments/${encodeURIComponent(id)}/revisions`,
    );
  }
  deploymentRevision(id: string, revision: number): Promise<DeploymentRevision> {
    return this.requestChecked(
      DeploymentRevision,
      'GET',
      `/api/v1/deployments/${encodeURIComponent(id)}/revisions/${revision}`,
    );
  }

  // Logs
  /**
   * Streams a pod's log: yields the server-sent events until `end` or `error` (the last one).
   * An error before the stream starts throws NiroApiError like any request.
   */
  async *streamLogs(
    clusterId: string,
    namespace: string,
    pod: string,
    options: LogStreamOptions = {},
  ): AsyncGenerator<LogStreamEvent> {
    const path =
      `/api/v1/clusters/${encodeURIComponent(clusterId)}/pods/${encodeURIComponent(namespace)}/` +
      `${encodeURIComponent(pod)}/logs`;
    const url = new URL(this.baseUrl + path);
    if (options.container !== undefined) url.searchParams.set('container', options.container);
    if (options.follow === true) url.searchParams.set('follow', '1');
    if (options.tailLines !== undefined) url.searchParams.set('tailLines', String(options.tailLines));
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (this.options.userAgent) headers['user-agent'] = this.options.userAgent;
    const init: RequestInit = { method: 'GET', headers };
    if (options.signal !== undefined) init.signal = options.signal;
    const res = await this.fetchImpl(url.toString(), init);
    if (!res.ok || res.body === null) {
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const err = readErrorBody(parsed);
      throw new NiroApiError(
        res.status,
        err?.code ?? 'http_error',
        err?.message ?? `GET ${path} failed with HTTP ${res.status}`,
        err?.details,
      );
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
          const event = parseLogEvent(buffer.slice(0, i));
          buffer = buffer.slice(i + 2);
          if (event === null) continue;
          yield event;
          if (event.type === 'end' || event.type === 'error') return;
        }
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }

  // Agent protocol
  enroll(req: EnrollRequest): Promise<EnrollResponse> {
    return this.request('POST', '/api/agent/v1/enroll', req);
  }
  heartbeat(hb: Heartbeat): Promise<HeartbeatReply> {
    return this.request('POST', '/api/agent/v1/heartbeat', hb);
  }
}

/** The code, message and details of an API error body (`{ error: {...} }`), or null if it is not one. */
export function readErrorBody(body: unknown): { code: string; message: string; details?: unknown } | null {
  if (typeof body !== 'object' || body === null || !('error' in body)) return null;
  const e = body.error;
  if (typeof e !== 'object' || e === null) return null;
  const code = 'code' in e && typeof e.code === 'string' ? e.code : 'http_error';
  const message = 'message' in e && typeof e.message === 'string' ? e.message : 'request failed';
  const details = 'details' in e ? e.details : undefined;
  return { code, message, details };
}

/** One SSE block (`event:`/`data:` lines) of a log stream; null for comments and unknown events. */
function parseLogEvent(block: string): LogStreamEvent | null {
  let name = 'message';
  const dataLines: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) name = line.slice(7);
    else if (line.startsWith('data: ')) dataLines.push(line.slice(6));
  }
  if (dataLines.length === 0) return null;
  let data: unknown;
  try {
    data = JSON.parse(dataLines.join('\n'));
  } catch {
    return null;
  }
  const field = (key: string): string | undefined => {
    if (typeof data !== 'object' || data === null || !(key in data)) return undefined;
    const v: unknown = Reflect.get(data, key);
    return typeof v === 'string' ? v : undefined;
  };
  switch (name) {
    case 'open':
      return { type: 'open', streamId: field('streamId') ?? '', commandId: field('commandId') ?? '' };
    case 'lines':
      return { type: 'lines', lines: Array.isArray(data) ? data.map((l) => String(l)) : [] };
    case 'end': {
      const message = field('message');
      return { type: 'end', reason: field('reason') ?? 'eof', ...(message === undefined ? {} : { message }) };
    }
    case 'error':
      return { type: 'error', code: field('code') ?? 'error', message: field('message') ?? 'The log stream failed' };
    default:
      return null;
  }
}
