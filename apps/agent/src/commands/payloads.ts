import type { ApplyPayload, DeletePayload, LogsPayload } from '@niro/protocol';
import { LOG_LIMITS } from '@niro/protocol/commands';

/**
 * Hand-written checks of command payloads (the agent does not load TypeBox). Unknown fields are
 * ignored, so a newer server may add some. Each failure names the field.
 */
export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

type Payload = Record<string, unknown>;

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A Pod's name: a DNS subdomain. */
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

class PayloadError extends Error {}

function optionalString(p: Payload, key: string): string | undefined {
  const value = p[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new PayloadError(`${key} must be a string`);
  return value;
}

function optionalNamespace(p: Payload): string | undefined {
  const namespace = optionalString(p, 'namespace');
  if (namespace !== undefined && (namespace.length > 63 || !NAMESPACE.test(namespace))) {
    throw new PayloadError('namespace must be a DNS label (lower-case letters, digits and "-", at most 63)');
  }
  return namespace;
}

/** It becomes a label value, so it must be one. */
function optionalDeploymentId(p: Payload): string | undefined {
  const id = optionalString(p, 'deploymentId');
  if (id !== undefined && (id.length > 63 || !LABEL_VALUE.test(id))) {
    throw new PayloadError('deploymentId must be a valid label value (letters, digits, "-", "_", ".", at most 63)');
  }
  return id;
}

function check<T>(read: () => T): Checked<T> {
  try {
    return { ok: true, value: read() };
  } catch (err) {
    if (err instanceof PayloadError) return { ok: false, message: err.message };
    throw err;
  }
}

/** `apply` and `diff`. */
export function checkApplyPayload(p: Payload): Checked<ApplyPayload> {
  return check(() => {
    const manifests = optionalString(p, 'manifests');
    if (manifests === undefined) throw new PayloadError('manifests is required (YAML or JSON text)');
    const value: ApplyPayload = { manifests };
    const namespace = optionalNamespace(p);
    if (namespace !== undefined) value.namespace = namespace;
    const deploymentId = optionalDeploymentId(p);
    if (deploymentId !== undefined) value.deploymentId = deploymentId;
    const { revision, prune } = p;
    if (revision !== undefined && revision !== null) {
      if (typeof revision !== 'number' || !Number.isInteger(revision) || revision < 0) {
        throw new PayloadError('revision must be a non-negative integer');
      }
      value.revision = revision;
    }
    if (prune !== undefined && prune !== null) {
      if (typeof prune !== 'boolean') throw new PayloadError('prune must be true or false');
      if (prune && deploymentId === undefined) throw new PayloadError('prune needs a deploymentId');
      value.prune = prune;
    }
    return value;
  });
}

export function checkDeletePayload(p: Payload): Checked<DeletePayload> {
  return check(() => {
    const value: DeletePayload = {};
    const manifests = optionalString(p, 'manifests');
    const deploymentId = optionalDeploymentId(p);
    const namespace = optionalNamespace(p);
    if (manifests === undefined && deploymentId === undefined) {
      throw new PayloadError('delete needs a deploymentId or manifests');
    }
    if (manifests !== undefined) value.manifests = manifests;
    if (deploymentId !== undefined) value.deploymentId = deploymentId;
    if (namespace !== undefined) value.namespace = namespace;
    return value;
  });
}

export function checkSelfUpdatePayload(p: Payload): Checked<{ image: string }> {
  return check(() => {
    const image = optionalString(p, 'image');
    if (image === undefined || image === '') throw new PayloadError('image is required');
    if (image.length > 1024 || /\s/.test(image))
      throw new PayloadError('image must be an image reference without spaces');
    return { image };
  });
}

/** `logs`: which container's log, how much of it, and whether to follow it. */
export function checkLogsPayload(p: Payload): Checked<LogsPayload> {
  return check(() => {
    const streamId = checkStreamId(p);
    const namespace = optionalNamespace(p);
    if (namespace === undefined) throw new PayloadError('namespace is required');
    const pod = optionalString(p, 'pod');
    if (pod === undefined || pod.length > 253 || !SUBDOMAIN.test(pod)) {
      throw new PayloadError('pod must be a pod name (lower-case letters, digits, "-" and ".", at most 253)');
    }
    const value: LogsPayload = { streamId, namespace, pod };
    const container = optionalString(p, 'container');
    if (container !== undefined && container !== '') {
      if (container.length > 63 || !NAMESPACE.test(container)) {
        throw new PayloadError('container must be a container name (lower-case letters, digits and "-", at most 63)');
      }
      value.container = container;
    }
    const { tailLines, follow } = p;
    if (tailLines !== undefined && tailLines !== null) {
      if (
        typeof tailLines !== 'number' ||
        !Number.isInteger(tailLines) ||
        tailLines < 0 ||
        tailLines > LOG_LIMITS.maxTailLines
      ) {
        throw new PayloadError(`tailLines must be a whole number from 0 to ${LOG_LIMITS.maxTailLines}`);
      }
      value.tailLines = tailLines;
    }
    if (follow !== undefined && follow !== null) {
      if (typeof follow !== 'boolean') throw new PayloadError('follow must be true or false');
      value.follow = follow;
    }
    return value;
  });
}

/** `logs-stop`. */
export function checkLogsStopPayload(p: Payload): Checked<{ streamId: string }> {
  return check(() => ({ streamId: checkStreamId(p) }));
}

function checkStreamId(p: Payload): string {
  const streamId = optionalString(p, 'streamId');
  if (streamId === undefined || streamId === '' || streamId.length > 128) {
    throw new PayloadError('streamId is required (at most 128 characters)');
  }
  return streamId;
}
