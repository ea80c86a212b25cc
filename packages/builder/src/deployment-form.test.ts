import { DeploymentForm, FORM_LIMITS, parseQuantity, validateDeploymentForm } from '@niro/protocol';
import { Compile } from 'typebox/compile';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FORM } from './index.js';

const checkForm = Compile(DeploymentForm);

/** A form with every section, valid, for the rules between fields to break one at a time. */
function baseForm(): DeploymentForm {
  return {
    name: 'shop',
    image: 'ghcr.io/acme/shop:1.2.3',
    replicas: 2,
    ports: [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'dns', containerPort: 53, protocol: 'UDP' },
    ],
    service: {
      type: 'NodePort',
      ports: [
        { name: 'http', port: 80, targetPort: 'http', nodePort: 30080 },
        { name: 'dns', port: 53, targetPort: 53 },
      ],
    },
    ingress: { host: 'shop.example.com', path: '/', servicePort: 80 },
    env: [
      { name: 'MODE', value: 'production' },
      { name: 'DB_PASSWORD', secretName: 'shop-db', secretKey: 'password' },
    ],
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
    probes: {
      liveness: { type: 'tcp', port: 'http' },
      readiness: { type: 'http', path: '/ready', port: 8080 },
      startup: { type: 'exec', command: ['cat', '/tmp/started'] },
    },
    volumes: [{ name: 'data', size: '1Gi', mountPath: '/data' }],
    hpa: { minReplicas: 2, maxReplicas: 5, cpuTargetPercent: 80 },
    labels: { team: 'payments' },
    annotations: { 'example.com/owner': 'payments' },
  };
}

/** The instance paths the schema rejects, e.g. `/service/ports/0/extra`. */
function schemaErrorPaths(value: unknown): string[] {
  return [...new Set([...checkForm.Errors(value)].map((error) => error.instancePath))];
}

function issuesOf(change: (form: DeploymentForm) => void): string[] {
  const form = baseForm();
  change(form);
  // The rule must be one the schema cannot see: the form itself is schema-valid.
  expect(schemaErrorPaths(form)).toEqual([]);
  return validateDeploymentForm(form).map((issue) => issue.path);
}

describe('DeploymentForm schema', () => {
  it('accepts the base form, the default form and a minimal form', () => {
    expect(schemaErrorPaths(baseForm())).toEqual([]);
    expect(schemaErrorPaths(DEFAULT_FORM)).toEqual([]);
    expect(schemaErrorPaths({ name: 'a', image: 'busybox', replicas: 0 })).toEqual([]);
    expect(validateDeploymentForm(baseForm())).toEqual([]);
  });

  it('rejects unknown fields at every level, naming them', () => {
    expect(schemaErrorPaths({ ...baseForm(), replica: 3 })).toContain('/replica');
    const nested = baseForm();
    const servicePort = nested.service?.ports[0];
    if (servicePort === undefined) throw new Error('base form has a service port');
    Object.assign(servicePort, { targetport: 80 });
    expect(schemaErrorPaths(nested)).toContain('/service/ports/0/targetport');
    expect(schemaErrorPaths({ ...baseForm(), resources: { requests: { cpu: '1', gpu: '1' } } })).toContain(
      '/resources/requests/gpu',
    );
    expect(
      schemaErrorPaths({ ...baseForm(), probes: { readiness: { type: 'http', path: '/', port: 80, host: 'x' } } }),
    ).not.toEqual([]);
    expect(
      schemaErrorPaths({ ...baseForm(), hpa: { minReplicas: 1, maxReplicas: 2, cpuTargetPercent: 50, mem: 1 } }),
    ).toContain('/hpa/mem');
  });

  it('takes an env var either as a value or from a Secret, never both', () => {
    expect(
      schemaErrorPaths({ ...baseForm(), env: [{ name: 'A', value: 'x', secretName: 's', secretKey: 'k' }] }),
    ).not.toEqual([]);
    expect(schemaErrorPaths({ ...baseForm(), env: [{ name: 'A', secretName: 's' }] })).not.toEqual([]);
    expect(schemaErrorPaths({ ...baseForm(), env: [{ name: '1A', value: 'x' }] })).not.toEqual([]);
    expect(schemaErrorPaths({ ...baseForm(), env: [{ name: 'my.setting-1', value: 'x' }] })).toEqual([]);
  });

  it('checks names, images and bounds', () => {
    expect(schemaErrorPaths({ ...baseForm(), name: 'Shop' })).toContain('/name');
    expect(schemaErrorPaths({ ...baseForm(), name: 'a'.repeat(64) })).toContain('/name');
    expect(schemaErrorPaths({ ...baseForm(), name: '-shop' })).toContain('/name');
    expect(schemaErrorPaths({ ...baseForm(), image: '' })).toContain('/image');
    expect(schemaErrorPaths({ ...baseForm(), image: 'nginx latest' })).toContain('/image');
    expect(schemaErrorPaths({ ...baseForm(), image: `x${'a'.repeat(512)}` })).toContain('/image');
    expect(schemaErrorPaths({ ...baseForm(), replicas: 1001 })).toContain('/replicas');
    expect(schemaErrorPaths({ ...baseForm(), replicas: 1.5 })).toContain('/replicas');
    expect(schemaErrorPaths({ ...baseForm(), ports: [{ containerPort: 70000, protocol: 'TCP' }] })).toContain(
      '/ports/0/containerPort',
    );
    expect(schemaErrorPaths({ ...baseForm(), ports: [{ containerPort: 80, protocol: 'SCTP' }] })).toContain(
      '/ports/0/protocol',
    );
    const tooMany = Array.from({ length: FORM_LIMITS.env + 1 }, (_, i) => ({ name: `V${i}`, value: '' }));
    expect(schemaErrorPaths({ ...baseForm(), env: tooMany })).toContain('/env');
    const labels = Object.fromEntries(Array.from({ length: FORM_LIMITS.labels + 1 }, (_, i) => [`l${i}`, 'x']));
    expect(schemaErrorPaths({ ...baseForm(), labels })).toContain('/labels');
    expect(schemaErrorPaths({ ...baseForm(), labels: { 'bad key!': 'x' } })).not.toEqual([]);
    expect(schemaErrorPaths({ ...baseForm(), labels: { team: 'has space' } })).not.toEqual([]);
    expect(schemaErrorPaths({ ...baseForm(), ingress: { host: 'x.io', path: 'api', servicePort: 80 } })).toContain(
      '/ingress/path',
    );
    expect(
      schemaErrorPaths({ ...baseForm(), volumes: [{ name: 'data', size: '1Gi', mountPath: 'relative/path' }] }),
    ).toContain('/volumes/0/mountPath');
  });

  it('takes Kubernetes quantities for CPU, memory and sizes', () => {
    const withResources = (cpu: string, memory: string) =>
      schemaErrorPaths({ ...baseForm(), resources: { requests: { cpu, memory } } });
    for (const [cpu, memory] of [
      ['250m', '128Mi'],
      ['1', '1Gi'],
      ['0.5', '500M'],
      ['2', '1048576'],
      ['1.25', '1.5Gi'],
    ] as const) {
      expect(withResources(cpu, memory), `${cpu} ${memory}`).toEqual([]);
    }
    for (const bad of ['250 m', '-1', '1.5.5', 'abc', '1Gi', '0.0001', '']) {
      expect(withResources(bad, '1Gi'), bad).toContain('/resources/requests/cpu');
    }
    for (const bad of ['10mi', '1 Gi', '-1Mi', '1GB', 'Gi', '']) {
      expect(withResources('1', bad), bad).toContain('/resources/requests/memory');
    }
    expect(parseQuantity('250m', 'cpu')).toBe(0.25);
    expect(parseQuantity('2', 'cpu')).toBe(2);
    expect(parseQuantity('1Gi', 'bytes')).toBe(2 ** 30);
    expect(parseQuantity('500M', 'bytes')).toBe(5e8);
    expect(parseQuantity('1.5Ki', 'bytes')).toBe(1536);
    expect(parseQuantity('1Gi', 'cpu')).toBeUndefined();
  });
});

describe('validateDeploymentForm', () => {
  it('needs a service for an ingress, with the port the ingress names', () => {
    expect(
      issuesOf((form) => {
        delete form.service;
      }),
    ).toEqual(['ingress']);
    expect(
      issuesOf((form) => {
        if (form.ingress) form.ingress.servicePort = 8080;
      }),
    ).toEqual(['ingress.servicePort']);
    expect(
      issuesOf((form) => {
        if (form.ingress) form.ingress.servicePort = 'web';
      }),
    ).toEqual(['ingress.servicePort']);
    expect(
      issuesOf((form) => {
        if (form.ingress) form.ingress.servicePort = 'http';
      }),
    ).toEqual([]);
  });

  it('checks the service ports: names when several, known target names, node ports only where they exist', () => {
    expect(
      issuesOf((form) => {
        delete form.service?.ports[1]?.name;
      }),
    ).toEqual(['service.ports[1].name']);
    expect(
      issuesOf((form) => {
        const port = form.service?.ports[0];
        if (port) port.targetPort = 'web';
      }),
    ).toEqual(['service.ports[0].targetPort']);
    expect(
      issuesOf((form) => {
        if (form.service) form.service.type = 'ClusterIP';
      }),
    ).toEqual(['service.ports[0].nodePort']);
    expect(
      issuesOf((form) => {
        form.service?.ports.push({ name: 'http', port: 80, targetPort: 8080 });
      }),
    ).toEqual(['service.ports[2].name', 'service.ports[2].port']);
  });

  it('keeps container port names valid and unique', () => {
    expect(
      issuesOf((form) => {
        form.ports?.push({ name: 'http', containerPort: 8081, protocol: 'TCP' });
      }),
    ).toEqual(['ports[2].name']);
    expect(
      issuesOf((form) => {
        form.ports?.push({ containerPort: 8080, protocol: 'TCP' });
      }),
    ).toEqual(['ports[2].containerPort']);
    expect(
      issuesOf((form) => {
        form.ports?.push({ name: '8081', containerPort: 8081, protocol: 'TCP' });
      }),
    ).toEqual(['ports[2].name']);
    expect(
      issuesOf((form) => {
        form.ports?.push({ name: 'a--b', containerPort: 8081, protocol: 'TCP' });
      }),
    ).toEqual(['ports[2].name']);
  });

  it('needs a port and path for an http probe, a port for tcp, a command for exec, and nothing else', () => {
    expect(
      issuesOf((form) => {
        if (form.probes) form.probes.readiness = { type: 'http', port: 8080 };
      }),
    ).toEqual(['probes.readiness.path']);
    expect(
      issuesOf((form) => {
        if (form.probes) form.probes.liveness = { type: 'tcp' };
      }),
    ).toEqual(['probes.liveness.port']);
    expect(
      issuesOf((form) => {
        if (form.probes) form.probes.liveness = { type: 'tcp', port: 'grpc' };
      }),
    ).toEqual(['probes.liveness.port']);
    expect(
      issuesOf((form) => {
        if (form.probes) form.probes.startup = { type: 'exec', port: 8080, path: '/' };
      }),
    ).toEqual(['probes.startup.command', 'probes.startup.port', 'probes.startup.path']);
    expect(
      issuesOf((form) => {
        if (form.probes) form.probes.readiness = { type: 'http', path: '/', port: 8080, command: ['true'] };
      }),
    ).toEqual(['probes.readiness.command']);
  });

  it('keeps env names, volume names and mount paths unique', () => {
    expect(
      issuesOf((form) => {
        form.env?.push({ name: 'MODE', value: 'debug' });
      }),
    ).toEqual(['env[2].name']);
    expect(
      issuesOf((form) => {
        form.volumes?.push({ name: 'data', size: '1Gi', mountPath: '/other' });
      }),
    ).toEqual(['volumes[1].name']);
    expect(
      issuesOf((form) => {
        form.volumes?.push({ name: 'cache', size: '1Gi', mountPath: '/data/' });
      }),
    ).toEqual(['volumes[1].mountPath']);
    expect(
      issuesOf((form) => {
        form.volumes?.push({ name: 'cache', size: '0', mountPath: '/cache' });
      }),
    ).toEqual(['volumes[1].size']);
  });

  it('keeps limits at or above requests', () => {
    expect(
      issuesOf((form) => {
        form.resources = { requests: { cpu: '1500m', memory: '2Gi' }, limits: { cpu: '1', memory: '1Gi' } };
      }),
    ).toEqual(['resources.limits.cpu', 'resources.limits.memory']);
    expect(
      issuesOf((form) => {
        form.resources = { requests: { cpu: '1', memory: '1024Mi' }, limits: { cpu: '1000m', memory: '1Gi' } };
      }),
    ).toEqual([]);
    expect(
      issuesOf((form) => {
        form.resources = { requests: { cpu: '1' }, limits: { memory: '0' } };
      }),
    ).toEqual(['resources.limits.memory']);
  });

  it('keeps the HPA minimum at or below its maximum, with a CPU request to measure against', () => {
    expect(
      issuesOf((form) => {
        form.hpa = { minReplicas: 6, maxReplicas: 5, cpuTargetPercent: 80 };
      }),
    ).toEqual(['hpa.minReplicas']);
    expect(
      issuesOf((form) => {
        form.resources = { requests: { memory: '1Gi' } };
      }),
    ).toEqual(['resources.requests.cpu']);
  });

  it('leaves the labels Niro sets to Niro', () => {
    expect(
      issuesOf((form) => {
        form.labels = {
          'app.kubernetes.io/name': 'other',
          'niro.dev/deployment-id': 'x',
          'app.kubernetes.io/version': '1',
        };
        form.annotations = { 'niro.dev/anything': 'x' };
      }),
    ).toEqual(['labels.app.kubernetes.io/name', 'labels.niro.dev/deployment-id', 'annotations.niro.dev/anything']);
  });
});
