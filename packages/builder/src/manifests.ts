import type { DeploymentForm, FormProbe } from '@niro/protocol';
import { Document, parse, visit } from 'yaml';

export type BuildOptions = {
  /** Written into metadata.namespace of every object. */
  namespace: string;
  /** The pull Secret of the form's registry credential, referenced from the pod spec. */
  imagePullSecretName?: string;
};

/** A generated object: the shape of @niro/policy's KubeObject, with the namespace always set. */
export type ManifestObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  [field: string]: unknown;
};

export type BuiltManifests = {
  /** The objects as YAML documents joined by `---\n`: Deployment, Service, Ingress, PVCs, HPA. */
  yaml: string;
  objects: ManifestObject[];
};

type Json = Record<string, unknown>;

const NAME_LABEL = 'app.kubernetes.io/name';
const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

/**
 * The manifests of a builder form. Pure and deterministic: the same form gives byte-identical YAML
 * whatever the key order of its objects. The form should have passed the DeploymentForm schema and
 * validateDeploymentForm; nothing is checked again here, and nothing throws. The objects carry no
 * niro.dev/deployment-id label: the agent adds it when it applies them.
 */
export function buildManifests(form: DeploymentForm, options: BuildOptions): BuiltManifests {
  const objects: ManifestObject[] = [deployment(form, options)];
  if (form.service !== undefined) objects.push(service(form, form.service, options));
  if (form.ingress !== undefined) objects.push(ingress(form, form.ingress, options));
  for (const volume of form.volumes ?? []) objects.push(persistentVolumeClaim(form, volume, options));
  if (form.hpa !== undefined) objects.push(horizontalPodAutoscaler(form, form.hpa, options));
  return { yaml: objects.map(toYaml).join('---\n'), objects };
}

/** The PersistentVolumeClaim name of a form volume. */
export function claimName(deploymentName: string, volumeName: string): string {
  return `${deploymentName}-${volumeName}`;
}

function metadata(form: DeploymentForm, name: string, options: BuildOptions): ManifestObject['metadata'] {
  const annotations = sortedMap(form.annotations);
  return {
    name,
    namespace: options.namespace,
    labels: objectLabels(form),
    ...(annotations === undefined ? {} : { annotations }),
  };
}

function objectLabels(form: DeploymentForm): Record<string, string> {
  return { [NAME_LABEL]: form.name, [MANAGED_BY_LABEL]: 'niro', ...sortedMap(form.labels) };
}

function deployment(form: DeploymentForm, options: BuildOptions): ManifestObject {
  const volumes = form.volumes ?? [];
  const container = compact({
    name: form.name,
    image: form.image,
    ports: (form.ports ?? []).map((port) =>
      compact({ name: port.name, containerPort: port.containerPort, protocol: port.protocol }),
    ),
    env: (form.env ?? []).map((variable) =>
      'value' in variable
        ? { name: variable.name, value: variable.value }
        : { name: variable.name, valueFrom: { secretKeyRef: { name: variable.secretName, key: variable.secretKey } } },
    ),
    resources: compact({
      requests: compact({ cpu: form.resources?.requests?.cpu, memory: form.resources?.requests?.memory }),
      limits: compact({ cpu: form.resources?.limits?.cpu, memory: form.resources?.limits?.memory }),
    }),
    livenessProbe: probe(form.probes?.liveness),
    readinessProbe: probe(form.probes?.readiness),
    startupProbe: probe(form.probes?.startup),
    volumeMounts: volumes.map((volume) => ({ name: volume.name, mountPath: volume.mountPath })),
  });
  const podSpec = compact({
    imagePullSecrets: options.imagePullSecretName === undefined ? [] : [{ name: options.imagePullSecretName }],
    containers: [container],
    volumes: volumes.map((volume) => ({
      name: volume.name,
      persistentVolumeClaim: { claimName: claimName(form.name, volume.name) },
    })),
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(form, form.name, options),
    spec: compact({
      // An HPA owns the replica count; a value here would reset it on every apply.
      replicas: form.hpa === undefined ? form.replicas : undefined,
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: form.progressDeadlineSeconds,
      selector: { matchLabels: { [NAME_LABEL]: form.name } },
      template: {
        metadata: compact({ labels: objectLabels(form), annotations: sortedMap(form.annotations) }),
        spec: podSpec,
      },
    }),
  };
}

function probe(spec: FormProbe | undefined): Json | undefined {
  if (spec === undefined) return undefined;
  const action =
    spec.type === 'http'
      ? { httpGet: compact({ path: spec.path, port: spec.port }) }
      : spec.type === 'tcp'
        ? { tcpSocket: compact({ port: spec.port }) }
        : { exec: compact({ command: spec.command ?? [] }) };
  return compact({
    ...action,
    initialDelaySeconds: spec.initialDelaySeconds,
    periodSeconds: spec.periodSeconds,
    timeoutSeconds: spec.timeoutSeconds,
    failureThreshold: spec.failureThreshold,
  });
}

function service(
  form: DeploymentForm,
  spec: NonNullable<DeploymentForm['service']>,
  options: BuildOptions,
): ManifestObject {
  const containerPorts = form.ports ?? [];
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(form, form.name, options),
    spec: {
      type: spec.type,
      selector: { [NAME_LABEL]: form.name },
      ports: spec.ports.map((port) => {
        const target = containerPorts.find((candidate) =>
          typeof port.targetPort === 'number'
            ? candidate.containerPort === port.targetPort
            : candidate.name === port.targetPort,
        );
        return compact({
          name: port.name,
          port: port.port,
          targetPort: port.targetPort,
          // A UDP container port needs a UDP service port; Kubernetes defaults to TCP.
          protocol: target?.protocol ?? 'TCP',
          nodePort: spec.type === 'ClusterIP' ? undefined : port.nodePort,
        });
      }),
    },
  };
}

function ingress(
  form: DeploymentForm,
  spec: NonNullable<DeploymentForm['ingress']>,
  options: BuildOptions,
): ManifestObject {
  const port = typeof spec.servicePort === 'number' ? { number: spec.servicePort } : { name: spec.servicePort };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: metadata(form, form.name, options),
    spec: compact({
      ingressClassName: spec.className,
      tls: spec.tlsSecretName === undefined ? [] : [{ hosts: [spec.host], secretName: spec.tlsSecretName }],
      rules: [
        {
          host: spec.host,
          http: {
            paths: [
              {
                path: spec.path,
                pathType: spec.pathType ?? 'Prefix',
                backend: { service: { name: form.name, port } },
              },
            ],
          },
        },
      ],
    }),
  };
}

function persistentVolumeClaim(
  form: DeploymentForm,
  volume: NonNullable<DeploymentForm['volumes']>[number],
  options: BuildOptions,
): ManifestObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: metadata(form, claimName(form.name, volume.name), options),
    spec: compact({
      accessModes: [volume.accessMode ?? 'ReadWriteOnce'],
      storageClassName: volume.storageClassName,
      resources: { requests: { storage: volume.size } },
    }),
  };
}

function horizontalPodAutoscaler(
  form: DeploymentForm,
  spec: NonNullable<DeploymentForm['hpa']>,
  options: BuildOptions,
): ManifestObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: metadata(form, form.name, options),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: form.name },
      minReplicas: spec.minReplicas,
      maxReplicas: spec.maxReplicas,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: spec.cpuTargetPercent } },
        },
      ],
    },
  };
}

/** The entries in key order, or undefined for an absent or empty map. */
function sortedMap(map: Record<string, string> | undefined): Record<string, string> | undefined {
  if (map === undefined) return undefined;
  const keys = Object.keys(map).sort();
  if (keys.length === 0) return undefined;
  const sorted: Record<string, string> = {};
  for (const key of keys) {
    const value = map[key];
    if (value !== undefined) sorted[key] = value;
  }
  return sorted;
}

/** Drops undefined values, empty arrays and empty objects, keeping the order of the rest. */
function compact(fields: Json): Json {
  const kept: Json = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) continue;
    kept[key] = value;
  }
  return kept;
}

/**
 * YAML that kubectl (YAML 1.1) and YAML 1.2 readers both read back as the same object: the 1.1
 * writer quotes `yes`, `on` and `0644`; strings a 1.2 reader would take for numbers (`0o14`) are
 * quoted too.
 */
function toYaml(object: ManifestObject): string {
  const document = new Document(object, { version: '1.1' });
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && !node.value.includes('\n') && !readsAsString(node.value)) {
        node.type = 'QUOTE_DOUBLE';
      }
    },
  });
  return document.toString({ lineWidth: 0 });
}

function readsAsString(text: string): boolean {
  try {
    return parse(text, { version: '1.2' }) === text && parse(text, { version: '1.1' }) === text;
  } catch {
    return false;
  }
}
