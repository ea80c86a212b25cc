import { createHash } from 'node:crypto';
import {
  AGENT_INSTALL_LABEL,
  AGENT_INSTALL_LABEL_VALUE,
  AGENT_KEY_SECRET,
  AGENT_TOKEN_SECRET,
} from '@niro/protocol/agent-install';
import { KubeApiError } from './kube/kube-errors.js';
import type { KubeApi } from './kube/types.js';
import { obj } from './inventory/raw.js';

/** What the agent keeps across restarts, in Secret `<namespace>/niro-agent-key`. */
export type StoredKey = { agentKey: string; clusterId: string; niroUrl: string; tokenDigest: string };

export const tokenDigest = (token: string): string => createHash('sha256').update(token).digest('hex');

const secretsPath = (namespace: string): string => `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;

/** The agent's key Secret. The agent's only durable state (DESIGN 2). */
export class KeyStore {
  constructor(
    private readonly api: KubeApi,
    private readonly namespace: string,
  ) {}

  get location(): string {
    return `${this.namespace}/${AGENT_KEY_SECRET}`;
  }

  /** The stored key, or null when the Secret does not exist (first start) or lacks a key. */
  async read(): Promise<StoredKey | null> {
    let secret: unknown;
    try {
      secret = await this.api.request('GET', `${secretsPath(this.namespace)}/${AGENT_KEY_SECRET}`);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return null;
      throw err;
    }
    const data = obj(secret, 'data') ?? {};
    const read = (k: string): string => {
      const v = data[k];
      return typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : '';
    };
    const agentKey = read('agentKey');
    if (agentKey === '') return null;
    return { agentKey, clusterId: read('clusterId'), niroUrl: read('niroUrl'), tokenDigest: read('tokenDigest') };
  }

  async write(key: StoredKey): Promise<void> {
    const stringData = { ...key };
    try {
      await this.api.request('POST', secretsPath(this.namespace), {
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'Opaque',
          metadata: {
            name: AGENT_KEY_SECRET,
            namespace: this.namespace,
            labels: { [AGENT_INSTALL_LABEL]: AGENT_INSTALL_LABEL_VALUE },
          },
          stringData,
        },
      });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 409)) throw err;
      await this.api.request('PATCH', `${secretsPath(this.namespace)}/${AGENT_KEY_SECRET}`, {
        body: { stringData },
        contentType: 'application/merge-patch+json',
      });
    }
  }

  /** Removes the used enrollment token; it is worthless now, but it should not linger. */
  async deleteToken(): Promise<void> {
    try {
      await this.api.request('DELETE', `${secretsPath(this.namespace)}/${AGENT_TOKEN_SECRET}`);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return;
      throw err;
    }
  }
}
