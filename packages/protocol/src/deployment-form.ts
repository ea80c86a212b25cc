import { Type, type Static } from 'typebox';

/**
 * The deployment builder's stored form (DESIGN 4.5): `source: {type: "builder", form}` in the HTTP
 * API. The schema says what one field can say; `validateDeploymentForm` checks the rules between
 * fields. `@niro/builder` turns a valid form into manifests.
 */

const DNS_LABEL = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
const DNS_SUBDOMAIN = '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$';
/** An IANA service name as Kubernetes uses for port names (the letter and `--` rules are in validateDeploymentForm). */
const PORT_NAME = '^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$';
const CPU_QUANTITY = '^([0-9]{1,6}(\\.[0-9]{1,3})?|[0-9]{1,9}m)$';
const BYTES_QUANTITY = '^[0-9]{1,15}(\\.[0-9]{1,6})?(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$';
const LABEL_KEY =
  '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$';

export const FORM_LIMITS = {
  ports: 20,
  servicePorts: 20,
  env: 200,
  envValueLength: 8192,
  volumes: 20,
  probeCommand: 32,
  probeCommandArgLength: 1024,
  labels: 32,
  annotations: 32,
  annotationValueLength: 8192,
  replicas: 1000,
} as const;

const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const PortName = Type.String({
  minLength: 1,
  maxLength: 15,
  pattern: PORT_NAME,
  description: 'A port name: up to 15 lower-case letters, digits and dashes, with at least one letter',
});
const PortRef = Type.Union([Port, PortName], { description: 'A port number or the name of a container port' });

const Seconds = (minimum: number, description: string) => Type.Integer({ minimum, maximum: 3600, description });

const CpuQuantity = Type.String({
  maxLength: 16,
  pattern: CPU_QUANTITY,
  description: 'CPU as a Kubernetes quantity: cores (`1`, `0.5`) or millicores (`250m`)',
});
const BytesQuantity = Type.String({
  maxLength: 24,
  pattern: BYTES_QUANTITY,
  description: 'Bytes as a Kubernetes quantity: `128Mi`, `1Gi`, `500M`, `1048576`',
});

export const FormContainerPort = Type.Object(
  {
    name: Type.Optional(PortName),
    containerPort: Port,
    protocol: Type.Union([Type.Literal('TCP'), Type.Literal('UDP')]),
  },
  { additionalProperties: false },
);
export type FormContainerPort = Static<typeof FormContainerPort>;

export const FormServicePort = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 63, pattern: DNS_LABEL })),
    port: Port,
    targetPort: PortRef,
    nodePort: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 65535,
        description: 'NodePort and LoadBalancer services only; by default clusters allow 30000-32767',
      }),
    ),
  },
  { additionalProperties: false },
);
export type FormServicePort = Static<typeof FormServicePort>;

export const FormService = Type.Object(
  {
    type: Type.Union([Type.Literal('ClusterIP'), Type.Literal('NodePort'), Type.Literal('LoadBalancer')]),
    ports: Type.Array(FormServicePort, { minItems: 1, maxItems: FORM_LIMITS.servicePorts }),
  },
  { additionalProperties: false },
);
export type FormService = Static<typeof FormService>;

export const FormIngress = Type.Object(
  {
    host: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^(\\*\\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$',
      description: 'A DNS name, optionally starting with `*.`',
    }),
    path: Type.String({ minLength: 1, maxLength: 1024, pattern: '^/[^\\s]*$', description: 'Starts with /' }),
    pathType: Type.Optional(
      Type.Union([Type.Literal('Prefix'), Type.Literal('Exact')], { description: 'Default: Prefix' }),
    ),
    servicePort: Type.Union([Port, Type.String({ minLength: 1, maxLength: 63, pattern: DNS_LABEL })], {
      description: 'The port number or name of a port of the service',
    }),
    tlsSecretName: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        pattern: DNS_SUBDOMAIN,
        description: 'A TLS Secret in the namespace',
      }),
    ),
    className: Type.Optional(
      Type.String({ minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN, description: 'The IngressClass' }),
    ),
  },
  { additionalProperties: false },
);
export type FormIngress = Static<typeof FormIngress>;

const EnvName = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: '^[-._a-zA-Z][-._a-zA-Z0-9]*$',
  description: 'Letters, digits, `_`, `-` and `.`, not starting with a digit',
});

export const FormEnvVar = Type.Union([
  Type.Object(
    { name: EnvName, value: Type.String({ maxLength: FORM_LIMITS.envValueLength }) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      name: EnvName,
      secretName: Type.String({ minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN }),
      secretKey: Type.String({ minLength: 1, maxLength: 253, pattern: '^[-._a-zA-Z0-9]+$' }),
    },
    { additionalProperties: false },
  ),
]);
export type FormEnvVar = Static<typeof FormEnvVar>;

const ResourceAmounts = Type.Object(
  { cpu: Type.Optional(CpuQuantity), memory: Type.Optional(BytesQuantity) },
  { additionalProperties: false },
);

export const FormResources = Type.Object(
  { requests: Type.Optional(ResourceAmounts), limits: Type.Optional(ResourceAmounts) },
  { additionalProperties: false },
);
export type FormResources = Static<typeof FormResources>;

export const FormProbe = Type.Object(
  {
    type: Type.Union([Type.Literal('http'), Type.Literal('tcp'), Type.Literal('exec')]),
    path: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1024, pattern: '^/[^\\s]*$', description: 'http probes' }),
    ),
    port: Type.Optional(PortRef),
    command: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: FORM_LIMITS.probeCommandArgLength }), {
        minItems: 1,
        maxItems: FORM_LIMITS.probeCommand,
        description: 'exec probes',
      }),
    ),
    initialDelaySeconds: Type.Optional(Seconds(0, 'Kubernetes default: 0')),
    periodSeconds: Type.Optional(Seconds(1, 'Kubernetes default: 10')),
    timeoutSeconds: Type.Optional(Seconds(1, 'Kubernetes default: 1')),
    failureThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Kubernetes default: 3' })),
  },
  { additionalProperties: false },
);
export type FormProbe = Static<typeof FormProbe>;

export const FormProbes = Type.Object(
  { liveness: Type.Optional(FormProbe), readiness: Type.Optional(FormProbe), startup: Type.Optional(FormProbe) },
  { additionalProperties: false },
);
export type FormProbes = Static<typeof FormProbes>;

export const FormVolume = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63, pattern: DNS_LABEL }),
    size: BytesQuantity,
    storageClassName: Type.Optional(Type.String({ minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN })),
    mountPath: Type.String({ minLength: 2, maxLength: 1024, pattern: '^/[^:\\s]*$', description: 'Absolute' }),
    accessMode: Type.Optional(
      Type.Union(
        [
          Type.Literal('ReadWriteOnce'),
          Type.Literal('ReadOnlyMany'),
          Type.Literal('ReadWriteMany'),
          Type.Literal('ReadWriteOncePod'),
        ],
        { description: 'Default: ReadWriteOnce' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type FormVolume = Static<typeof FormVolume>;

export const FormHpa = Type.Object(
  {
    minReplicas: Type.Integer({ minimum: 1, maximum: FORM_LIMITS.replicas }),
    maxReplicas: Type.Integer({ minimum: 1, maximum: FORM_LIMITS.replicas }),
    cpuTargetPercent: Type.Integer({
      minimum: 1,
      maximum: 1000,
      description: 'Average CPU use as a percentage of the CPU request',
    }),
  },
  { additionalProperties: false },
);
export type FormHpa = Static<typeof FormHpa>;

export const DeploymentForm = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 63,
      pattern: DNS_LABEL,
      description: 'DNS label; names the Deployment, its container, Service, Ingress and HPA',
    }),
    image: Type.String({ minLength: 1, maxLength: 512, pattern: '^\\S+$' }),
    registryId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'A stored registry credential for pulling the image' }),
    ),
    replicas: Type.Integer({
      minimum: 0,
      maximum: FORM_LIMITS.replicas,
      description: 'Not written when an HPA is set',
    }),
    progressDeadlineSeconds: Type.Optional(
      Type.Integer({
        minimum: 10,
        maximum: 86_400,
        description:
          'How long a rollout may take before it counts as stalled and opens deployment_failed (Kubernetes default: 600)',
      }),
    ),
    ports: Type.Optional(Type.Array(FormContainerPort, { maxItems: FORM_LIMITS.ports })),
    service: Type.Optional(FormService),
    ingress: Type.Optional(FormIngress),
    env: Type.Optional(Type.Array(FormEnvVar, { maxItems: FORM_LIMITS.env })),
    resources: Type.Optional(FormResources),
    probes: Type.Optional(FormProbes),
    volumes: Type.Optional(Type.Array(FormVolume, { maxItems: FORM_LIMITS.volumes })),
    hpa: Type.Optional(FormHpa),
    labels: Type.Optional(
      Type.Record(
        Type.String({ maxLength: 317, pattern: LABEL_KEY }),
        Type.String({ maxLength: 63, pattern: '^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$' }),
        { maxProperties: FORM_LIMITS.labels, additionalProperties: false },
      ),
    ),
    annotations: Type.Optional(
      Type.Record(
        Type.String({ maxLength: 317, pattern: LABEL_KEY }),
        Type.String({ maxLength: FORM_LIMITS.annotationValueLength }),
        { maxProperties: FORM_LIMITS.annotations, additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type DeploymentForm = Static<typeof DeploymentForm>;

/** A rule between fields that the form breaks; `path` is relative to the form: `ingress.servicePort`, `env[2].name`. */
export type DeploymentFormIssue = { path: string; message: string };

/** Label keys the builder sets itself or that Niro reserves. */
const RESERVED_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/managed-by'];
const RESERVED_PREFIX = 'niro.dev/';

const BYTE_SUFFIXES: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * The value of a quantity of the form's patterns: cores for CPU (`250m` is 0.25), bytes for memory
 * and sizes. undefined for text the patterns refuse.
 */
export function parseQuantity(text: string, kind: 'cpu' | 'bytes'): number | undefined {
  if (kind === 'cpu') {
    if (!new RegExp(CPU_QUANTITY).test(text)) return undefined;
    return text.endsWith('m') ? Number(text.slice(0, -1)) / 1000 : Number(text);
  }
  const match = /^([0-9.]+)([a-zA-Z]*)$/.exec(text);
  if (match === null || !new RegExp(BYTES_QUANTITY).test(text)) return undefined;
  const [, amount = '', suffix = ''] = match;
  const factor = BYTE_SUFFIXES[suffix];
  return factor === undefined ? undefined : Number(amount) * factor;
}

function isPortName(name: string): boolean {
  return /[a-z]/.test(name) && !name.includes('--');
}

/** Indexes of values equal to an earlier one (undefined values are skipped): the first stays valid. */
function duplicates<T>(values: readonly (T | undefined)[]): number[] {
  const seen = new Set<T>();
  const repeated: number[] = [];
  values.forEach((value, index) => {
    if (value === undefined) return;
    if (seen.has(value)) repeated.push(index);
    seen.add(value);
  });
  return repeated;
}

/**
 * The rules between fields of a form that passed the `DeploymentForm` schema, each with the path of
 * the field to fix. Empty when the form is valid.
 */
export function validateDeploymentForm(form: DeploymentForm): DeploymentFormIssue[] {
  const issues: DeploymentFormIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  const ports = form.ports ?? [];

  // Container ports.
  ports.forEach((port, i) => {
    if (port.name !== undefined && !isPortName(port.name)) {
      add(`ports[${i}].name`, 'a port name needs at least one letter and no "--"');
    }
  });
  for (const i of duplicates(ports.map((port) => port.name))) {
    add(`ports[${i}].name`, 'port names must be unique');
  }
  for (const i of duplicates(ports.map((port) => `${port.containerPort}/${port.protocol}`))) {
    add(`ports[${i}].containerPort`, 'this port and protocol are already listed');
  }
  const portNames = new Set(ports.flatMap((port) => (port.name === undefined ? [] : [port.name])));
  const checkPortRef = (path: string, ref: number | string) => {
    if (typeof ref === 'string' && !portNames.has(ref)) add(path, `no container port is named "${ref}"`);
  };

  // Service.
  const service = form.service;
  if (service !== undefined) {
    service.ports.forEach((port, i) => {
      if (service.ports.length > 1 && port.name === undefined) {
        add(`service.ports[${i}].name`, 'a service with more than one port needs a name for each');
      }
      checkPortRef(`service.ports[${i}].targetPort`, port.targetPort);
      if (port.nodePort !== undefined && service.type === 'ClusterIP') {
        add(`service.ports[${i}].nodePort`, 'only NodePort and LoadBalancer services have node ports');
      }
    });
    for (const i of duplicates(service.ports.map((port) => port.name))) {
      add(`service.ports[${i}].name`, 'port names must be unique');
    }
    for (const i of duplicates(service.ports.map((port) => port.port))) {
      add(`service.ports[${i}].port`, 'this port is already listed');
    }
    for (const i of duplicates(service.ports.map((port) => port.nodePort))) {
      add(`service.ports[${i}].nodePort`, 'this node port is already used');
    }
  }

  // Ingress.
  const ingress = form.ingress;
  if (ingress !== undefined) {
    if (service === undefined) {
      add('ingress', 'an ingress needs a service to send traffic to');
    } else {
      const ref = ingress.servicePort;
      const found = service.ports.some((port) => (typeof ref === 'number' ? port.port === ref : port.name === ref));
      if (!found) {
        add(
          'ingress.servicePort',
          typeof ref === 'number' ? `the service has no port ${ref}` : `the service has no port named "${ref}"`,
        );
      }
    }
  }

  // Environment.
  const env = form.env ?? [];
  for (const i of duplicates(env.map((entry) => entry.name))) {
    add(`env[${i}].name`, 'this variable is already set');
  }

  // Resources.
  for (const key of ['cpu', 'memory'] as const) {
    const request = form.resources?.requests?.[key];
    const limit = form.resources?.limits?.[key];
    const kind = key === 'cpu' ? 'cpu' : 'bytes';
    if (key === 'memory' && limit !== undefined && (parseQuantity(limit, kind) ?? 0) === 0) {
      add('resources.limits.memory', 'a memory limit must be more than 0');
    }
    if (request === undefined || limit === undefined) continue;
    const requestValue = parseQuantity(request, kind);
    const limitValue = parseQuantity(limit, kind);
    if (requestValue !== undefined && limitValue !== undefined && limitValue < requestValue) {
      add(`resources.limits.${key}`, `the ${key === 'cpu' ? 'CPU' : 'memory'} limit is below the request (${request})`);
    }
  }

  // Probes.
  for (const which of ['liveness', 'readiness', 'startup'] as const) {
    const probe = form.probes?.[which];
    if (probe === undefined) continue;
    const at = `probes.${which}`;
    if (probe.type === 'exec') {
      if (probe.command === undefined) add(`${at}.command`, 'an exec probe needs a command');
      if (probe.port !== undefined) add(`${at}.port`, 'an exec probe has no port');
    } else {
      if (probe.port === undefined) add(`${at}.port`, `a ${probe.type} probe needs a port`);
      else checkPortRef(`${at}.port`, probe.port);
      if (probe.command !== undefined) add(`${at}.command`, `a ${probe.type} probe has no command`);
    }
    if (probe.type === 'http' && probe.path === undefined) add(`${at}.path`, 'an http probe needs a path');
    if (probe.type !== 'http' && probe.path !== undefined) add(`${at}.path`, `a ${probe.type} probe has no path`);
  }

  // Volumes.
  const volumes = form.volumes ?? [];
  for (const i of duplicates(volumes.map((volume) => volume.name))) {
    add(`volumes[${i}].name`, 'volume names must be unique');
  }
  for (const i of duplicates(volumes.map((volume) => volume.mountPath.replace(/\/+$/, '')))) {
    add(`volumes[${i}].mountPath`, 'another volume is mounted here');
  }
  volumes.forEach((volume, i) => {
    if ((parseQuantity(volume.size, 'bytes') ?? 0) === 0) add(`volumes[${i}].size`, 'the size must be more than 0');
  });

  // HPA.
  if (form.hpa !== undefined) {
    if (form.hpa.minReplicas > form.hpa.maxReplicas) {
      add('hpa.minReplicas', `the minimum is above the maximum (${form.hpa.maxReplicas})`);
    }
    if (form.resources?.requests?.cpu === undefined && form.resources?.limits?.cpu === undefined) {
      add('resources.requests.cpu', 'an HPA with a CPU target needs a CPU request');
    }
  }

  // Labels and annotations.
  for (const key of Object.keys(form.labels ?? {}).sort()) {
    if (RESERVED_LABELS.includes(key) || key.startsWith(RESERVED_PREFIX)) add(`labels.${key}`, 'Niro sets this label');
  }
  for (const key of Object.keys(form.annotations ?? {}).sort()) {
    if (key.startsWith(RESERVED_PREFIX)) add(`annotations.${key}`, 'the niro.dev/ prefix is reserved for Niro');
  }
  return issues;
}
