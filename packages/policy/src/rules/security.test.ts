import { describe, expect, it } from 'vitest';
import { SECURITY_RULES, looksLikeSecretName, selectorMatches } from './security.js';
import {
  container,
  cronJob,
  daemonSet,
  deployment,
  job,
  object,
  pod,
  ruleIn,
  runRule,
  statefulSet,
} from './test-support/rules-fixtures.js';

const rule = (id: string) => ruleIn(SECURITY_RULES, id);

/** A pod spec that passes every security rule of this file. */
const HARDENED_CONTEXT = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};
function hardened(name = 'app', fields: Record<string, unknown> = {}): Record<string, unknown> {
  return container(name, { securityContext: HARDENED_CONTEXT, ...fields });
}
const HARDENED_POD = {
  serviceAccountName: 'web',
  securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
  containers: [hardened()],
};
const DENY_ALL = object('NetworkPolicy', 'default-deny', {
  spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
});

describe('security catalogue', () => {
  it('has the eleven rules with ids, texts, reads and severity pairs', () => {
    expect(SECURITY_RULES.map((r) => r.id)).toEqual([
      'privileged-container',
      'privilege-escalation',
      'run-as-root',
      'host-namespaces',
      'host-path',
      'dangerous-capabilities',
      'secret-in-env',
      'writable-root-fs',
      'no-seccomp',
      'no-network-policy',
      'default-service-account',
    ]);
    for (const r of SECURITY_RULES) {
      expect(r.category).toBe('security');
      expect(r.title.length).toBeGreaterThan(5);
      expect(r.description.length).toBeGreaterThan(80);
      expect(r.fix.length).toBeGreaterThan(20);
      expect(r.reads.length).toBeGreaterThan(0);
      expect(r.check).toBeTypeOf('function');
    }
  });

  it('passes a hardened Deployment with a NetworkPolicy on every rule', () => {
    for (const r of SECURITY_RULES) {
      expect(runRule(r, deployment(HARDENED_POD), [DENY_ALL]), r.id).toEqual([]);
    }
  });

  it('uses the severities of the Pod Security Standards levels', () => {
    const pairs = Object.fromEntries(
      SECURITY_RULES.map((r) => [r.id, `${r.severity.nonProduction}/${r.severity.production}`]),
    );
    expect(pairs).toEqual({
      'privileged-container': 'high/high',
      'privilege-escalation': 'medium/high',
      'run-as-root': 'medium/high',
      'host-namespaces': 'high/high',
      'host-path': 'high/high',
      'dangerous-capabilities': 'high/high',
      'secret-in-env': 'medium/high',
      'writable-root-fs': 'low/medium',
      'no-seccomp': 'medium/high',
      'no-network-policy': 'low/medium',
      'default-service-account': 'low/medium',
    });
  });
});

describe('privileged-container', () => {
  const privileged = rule('privileged-container');

  it('reports privileged: true with the field path and container name', () => {
    const hits = runRule(
      privileged,
      deployment({ containers: [container('app', { securityContext: { privileged: true } })] }),
    );
    expect(hits).toEqual([
      expect.objectContaining({
        container: 'app',
        path: 'spec.template.spec.containers[0].securityContext.privileged',
      }),
    ]);
  });

  it('passes privileged: false and no securityContext', () => {
    const spec = { containers: [container('a', { securityContext: { privileged: false } }), container('b')] };
    expect(runRule(privileged, deployment(spec))).toEqual([]);
  });

  it('checks init containers and names the one of several containers', () => {
    const spec = {
      initContainers: [container('setup', { securityContext: { privileged: true } })],
      containers: [container('app'), container('sidecar', { securityContext: { privileged: true } })],
    };
    const hits = runRule(privileged, statefulSet(spec));
    expect(hits.map((hit) => [hit.container, hit.path])).toEqual([
      ['sidecar', 'spec.template.spec.containers[1].securityContext.privileged'],
      ['setup', 'spec.template.spec.initContainers[0].securityContext.privileged'],
    ]);
  });

  it('uses the CronJob and Pod paths', () => {
    const spec = { containers: [container('task', { securityContext: { privileged: true } })] };
    expect(runRule(privileged, cronJob(spec))[0]?.path).toBe(
      'spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged',
    );
    expect(runRule(privileged, pod(spec))[0]?.path).toBe('spec.containers[0].securityContext.privileged');
  });

  it('checks ephemeral containers of a Pod', () => {
    const spec = {
      containers: [container('app')],
      ephemeralContainers: [container('debugger', { securityContext: { privileged: true } })],
    };
    expect(runRule(privileged, pod(spec))[0]?.path).toBe('spec.ephemeralContainers[0].securityContext.privileged');
  });
});

describe('privilege-escalation', () => {
  const escalation = rule('privilege-escalation');

  it('passes allowPrivilegeEscalation: false', () => {
    const spec = { containers: [container('app', { securityContext: { allowPrivilegeEscalation: false } })] };
    expect(runRule(escalation, deployment(spec))).toEqual([]);
  });

  it('reports the default (unset) and an explicit true', () => {
    const spec = {
      containers: [
        container('implicit'),
        container('explicit', { securityContext: { allowPrivilegeEscalation: true } }),
      ],
    };
    const hits = runRule(escalation, deployment(spec));
    expect(hits.map((hit) => hit.path)).toEqual([
      'spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation',
      'spec.template.spec.containers[1].securityContext.allowPrivilegeEscalation',
    ]);
    expect(hits[1]?.message).toContain('allowPrivilegeEscalation: true');
  });

  it('points at privileged: true, which implies escalation even next to an explicit false', () => {
    const spec = {
      containers: [container('app', { securityContext: { privileged: true, allowPrivilegeEscalation: false } })],
    };
    const hits = runRule(escalation, deployment(spec));
    expect(hits).toHaveLength(1);
    expect(hits[0]?.path).toBe('spec.template.spec.containers[0].securityContext.privileged');
    expect(hits[0]?.message).toContain('privileged');
  });

  it('points at CAP_SYS_ADMIN in any spelling, which implies escalation', () => {
    const spec = {
      containers: [
        container('app', {
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { add: ['NET_BIND_SERVICE', 'cap_sys_admin'] },
          },
        }),
      ],
    };
    const hits = runRule(escalation, deployment(spec));
    expect(hits.map((hit) => hit.path)).toEqual([
      'spec.template.spec.containers[0].securityContext.capabilities.add[1]',
    ]);
  });

  it('ignores a pod-level setting (the field exists only on containers) and checks init containers of a Job', () => {
    const spec = {
      securityContext: { runAsNonRoot: true },
      initContainers: [container('wait')],
      containers: [container('migrate', { securityContext: { allowPrivilegeEscalation: false } })],
    };
    const hits = runRule(escalation, job(spec));
    expect(hits.map((hit) => [hit.container, hit.path])).toEqual([
      ['wait', 'spec.template.spec.initContainers[0].securityContext.allowPrivilegeEscalation'],
    ]);
  });
});

describe('run-as-root', () => {
  const root = rule('run-as-root');

  it('passes runAsNonRoot: true on the pod', () => {
    const spec = { securityContext: { runAsNonRoot: true }, containers: [container('a'), container('b')] };
    expect(runRule(root, deployment(spec))).toEqual([]);
  });

  it('passes a non-zero runAsUser on the container', () => {
    const spec = { containers: [container('app', { securityContext: { runAsUser: 1000 } })] };
    expect(runRule(root, deployment(spec))).toEqual([]);
  });

  it('reports a container that sets neither, at the container path', () => {
    const hits = runRule(root, deployment({ containers: [container('app')] }));
    expect(hits).toEqual([
      expect.objectContaining({
        container: 'app',
        path: 'spec.template.spec.containers[0].securityContext.runAsNonRoot',
      }),
    ]);
  });

  it('reports runAsUser: 0 as a clear hit, even with runAsNonRoot: true', () => {
    const spec = {
      securityContext: { runAsNonRoot: true, runAsUser: 0 },
      containers: [container('app')],
    };
    const hits = runRule(root, deployment(spec));
    expect(hits).toEqual([
      expect.objectContaining({
        path: 'spec.template.spec.securityContext.runAsUser',
        message: expect.stringContaining('runAsUser is 0'),
      }),
    ]);
  });

  it('lets the container override the pod in both directions', () => {
    const spec = {
      securityContext: { runAsUser: 0 },
      containers: [
        container('overrides-root', { securityContext: { runAsUser: 1000 } }),
        container('inherits-root'),
        container('explicit-root', { securityContext: { runAsUser: 0 } }),
      ],
    };
    const hits = runRule(root, deployment(spec));
    expect(hits.map((hit) => [hit.container, hit.path])).toEqual([
      ['inherits-root', 'spec.template.spec.securityContext.runAsUser'],
      ['explicit-root', 'spec.template.spec.containers[2].securityContext.runAsUser'],
    ]);
  });

  it('reports a container that sets runAsNonRoot: false over the pod true', () => {
    const spec = {
      securityContext: { runAsNonRoot: true },
      containers: [container('app'), container('tool', { securityContext: { runAsNonRoot: false } })],
    };
    const hits = runRule(root, deployment(spec));
    expect(hits.map((hit) => hit.path)).toEqual(['spec.template.spec.containers[1].securityContext.runAsNonRoot']);
  });

  it('checks init containers of a CronJob', () => {
    const spec = {
      initContainers: [container('fetch')],
      containers: [container('task', { securityContext: { runAsUser: 1000 } })],
    };
    expect(runRule(root, cronJob(spec)).map((hit) => hit.container)).toEqual(['fetch']);
  });
});

describe('host-namespaces', () => {
  const host = rule('host-namespaces');

  it('passes a pod without host namespaces and with them set false', () => {
    expect(runRule(host, deployment({ containers: [container('app')] }))).toEqual([]);
    expect(runRule(host, deployment({ hostNetwork: false, hostPID: false, containers: [container('app')] }))).toEqual(
      [],
    );
  });

  it('reports each of hostNetwork, hostPID and hostIPC at its path', () => {
    const spec = { hostNetwork: true, hostPID: true, hostIPC: true, containers: [container('app')] };
    const hits = runRule(host, daemonSet(spec));
    expect(hits.map((hit) => hit.path)).toEqual([
      'spec.template.spec.hostNetwork',
      'spec.template.spec.hostPID',
      'spec.template.spec.hostIPC',
    ]);
    expect(hits.every((hit) => hit.container === undefined)).toBe(true);
  });

  it('reports Windows HostProcess pods and containers', () => {
    const spec = {
      securityContext: { windowsOptions: { hostProcess: true } },
      containers: [container('app', { securityContext: { windowsOptions: { hostProcess: true } } })],
    };
    expect(runRule(host, pod(spec)).map((hit) => hit.path)).toEqual([
      'spec.securityContext.windowsOptions.hostProcess',
      'spec.containers[0].securityContext.windowsOptions.hostProcess',
    ]);
  });

  it('uses the CronJob path', () => {
    const hits = runRule(host, cronJob({ hostNetwork: true, containers: [container('task')] }));
    expect(hits[0]?.path).toBe('spec.jobTemplate.spec.template.spec.hostNetwork');
  });
});

describe('host-path', () => {
  const hostPathRule = rule('host-path');

  it('passes emptyDir, configMap and PVC volumes', () => {
    const spec = {
      volumes: [
        { name: 'tmp', emptyDir: {} },
        { name: 'config', configMap: { name: 'web' } },
        { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
      ],
      containers: [container('app', { volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }] })],
    };
    expect(runRule(hostPathRule, deployment(spec))).toEqual([]);
  });

  it('names the volume, the node path and the containers that can write to it', () => {
    const spec = {
      volumes: [
        { name: 'tmp', emptyDir: {} },
        { name: 'docker', hostPath: { path: '/var/run/docker.sock', type: 'Socket' } },
      ],
      containers: [
        container('app', { volumeMounts: [{ name: 'docker', mountPath: '/var/run/docker.sock' }] }),
        container('reader', { volumeMounts: [{ name: 'docker', mountPath: '/sock', readOnly: true }] }),
      ],
    };
    const hits = runRule(hostPathRule, daemonSet(spec));
    expect(hits).toHaveLength(1);
    expect(hits[0]?.path).toBe('spec.template.spec.volumes[1].hostPath.path');
    expect(hits[0]?.container).toBe('app');
    expect(hits[0]?.message).toContain('"docker"');
    expect(hits[0]?.message).toContain('/var/run/docker.sock (a sensitive node path)');
    expect(hits[0]?.message).toContain('writable by "app"');
  });

  it('reports a read-only or unmounted hostPath too (Baseline forbids any)', () => {
    const spec = {
      volumes: [{ name: 'logs', hostPath: { path: '/var/log/app' } }],
      initContainers: [container('reader', { volumeMounts: [{ name: 'logs', mountPath: '/logs', readOnly: true }] })],
      containers: [container('app')],
    };
    const hits = runRule(hostPathRule, job(spec));
    expect(hits).toEqual([expect.objectContaining({ path: 'spec.template.spec.volumes[0].hostPath.path' })]);
    expect(hits[0]?.message).not.toContain('sensitive');
    expect(hits[0]?.message).not.toContain('writable');
  });
});

describe('dangerous-capabilities', () => {
  const capabilities = rule('dangerous-capabilities');

  it('passes capabilities of the Baseline list and drops', () => {
    const spec = {
      containers: [
        container('app', {
          securityContext: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE', 'CAP_CHOWN', 'setuid'] } },
        }),
      ],
    };
    expect(runRule(capabilities, deployment(spec))).toEqual([]);
  });

  it('reports each capability beyond the Baseline list at its index', () => {
    const spec = {
      containers: [
        container('app', {
          securityContext: { capabilities: { add: ['NET_BIND_SERVICE', 'SYS_ADMIN', 'CAP_NET_ADMIN'] } },
        }),
      ],
      initContainers: [container('init', { securityContext: { capabilities: { add: ['ALL'] } } })],
    };
    const hits = runRule(capabilities, deployment(spec));
    expect(hits.map((hit) => [hit.container, hit.path])).toEqual([
      ['app', 'spec.template.spec.containers[0].securityContext.capabilities.add[1]'],
      ['app', 'spec.template.spec.containers[0].securityContext.capabilities.add[2]'],
      ['init', 'spec.template.spec.initContainers[0].securityContext.capabilities.add[0]'],
    ]);
    expect(hits[0]?.message).toContain('SYS_ADMIN');
    expect(hits[1]?.message).toContain('NET_ADMIN');
    expect(hits[2]?.message).toContain('every Linux capability');
  });

  it('reports an unlisted capability with a generic reason', () => {
    const spec = { containers: [container('app', { securityContext: { capabilities: { add: ['WAKE_ALARM'] } } })] };
    expect(runRule(capabilities, pod(spec))[0]?.message).toContain('Baseline level does not allow');
  });
});

describe('secret-in-env', () => {
  const secrets = rule('secret-in-env');

  it('passes secrets from secretKeyRef and ordinary literal variables', () => {
    const spec = {
      containers: [
        container('app', {
          env: [
            { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'PASSWORD_FILE', value: '/run/secrets/db' },
            { name: 'TOKEN_URL', value: 'https://auth.example.com/token' },
            { name: 'AWS_ACCESS_KEY_ID', value: 'AKIAEXAMPLE' },
            { name: 'API_TOKEN', value: '$(RAW_TOKEN)' },
            { name: 'REQUIRE_TOKEN', value: 'true' },
            { name: 'EMPTY_SECRET', value: '' },
          ],
        }),
      ],
    };
    expect(runRule(secrets, deployment(spec))).toEqual([]);
  });

  it('reports literal credentials by name and never repeats the value', () => {
    const literal = 'hunter2-s3cr3t-value';
    const spec = {
      containers: [
        container('app', {
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'DB_PASSWORD', value: literal },
            { name: 'stripeApiKey', value: literal },
          ],
        }),
        container('sidecar', { env: [{ name: 'GITHUB_TOKEN', value: literal }] }),
      ],
      initContainers: [container('migrate', { env: [{ name: 'AWS_SECRET_ACCESS_KEY', value: literal }] })],
    };
    const hits = runRule(secrets, cronJob(spec));
    expect(hits.map((hit) => [hit.container, hit.path])).toEqual([
      ['app', 'spec.jobTemplate.spec.template.spec.containers[0].env[1].value'],
      ['app', 'spec.jobTemplate.spec.template.spec.containers[0].env[2].value'],
      ['sidecar', 'spec.jobTemplate.spec.template.spec.containers[1].env[0].value'],
      ['migrate', 'spec.jobTemplate.spec.template.spec.initContainers[0].env[0].value'],
    ]);
    expect(hits[0]?.message).toContain('DB_PASSWORD');
    for (const hit of hits) expect(hit.message).not.toContain(literal);
  });

  it('recognises secret-looking names', () => {
    for (const name of [
      'PASSWORD',
      'db_passwd',
      'SSH_PRIVATE_KEY',
      'apiKey',
      'CLIENT_SECRET',
      'JWT_SIGNING_KEY',
      'SMTP_CREDENTIALS',
    ]) {
      expect(looksLikeSecretName(name), name).toBe(true);
    }
    for (const name of ['PWD', 'HOME', 'SECRET_NAME', 'TOKEN_PATH', 'PASSWORD_FILE', 'KEYCLOAK_URL', 'TOKEN_TTL']) {
      expect(looksLikeSecretName(name), name).toBe(false);
    }
  });
});

describe('writable-root-fs', () => {
  const writable = rule('writable-root-fs');

  it('passes readOnlyRootFilesystem: true', () => {
    const spec = { containers: [container('app', { securityContext: { readOnlyRootFilesystem: true } })] };
    expect(runRule(writable, deployment(spec))).toEqual([]);
  });

  it('reports unset and false on containers and init containers', () => {
    const spec = {
      initContainers: [container('init')],
      containers: [
        container('app', { securityContext: { readOnlyRootFilesystem: false } }),
        container('ok', { securityContext: { readOnlyRootFilesystem: true } }),
      ],
    };
    expect(runRule(writable, job(spec)).map((hit) => [hit.container, hit.path])).toEqual([
      ['app', 'spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem'],
      ['init', 'spec.template.spec.initContainers[0].securityContext.readOnlyRootFilesystem'],
    ]);
  });

  it('skips ephemeral debug containers', () => {
    const spec = {
      containers: [container('app', { securityContext: { readOnlyRootFilesystem: true } })],
      ephemeralContainers: [container('debugger')],
    };
    expect(runRule(writable, pod(spec))).toEqual([]);
  });
});

describe('no-seccomp', () => {
  const seccomp = rule('no-seccomp');

  it('passes RuntimeDefault on the pod and Localhost on a container', () => {
    const podLevel = {
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [container('a'), container('b')],
    };
    expect(runRule(seccomp, deployment(podLevel))).toEqual([]);
    const containerLevel = {
      containers: [
        container('a', { securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'a.json' } } }),
      ],
    };
    expect(runRule(seccomp, deployment(containerLevel))).toEqual([]);
  });

  it('reports a missing profile once, at the pod, naming the containers', () => {
    const hits = runRule(
      seccomp,
      deployment({ initContainers: [container('init')], containers: [container('a'), container('b')] }),
    );
    expect(hits).toHaveLength(1);
    expect(hits[0]?.path).toBe('spec.template.spec.securityContext.seccompProfile');
    expect(hits[0]?.message).toContain('"a", "b", "init"');
    expect(hits[0]?.severity).toBeUndefined();
  });

  it('names the one container without a profile when the others set their own', () => {
    const spec = {
      containers: [container('a', { securityContext: { seccompProfile: { type: 'RuntimeDefault' } } }), container('b')],
    };
    expect(runRule(seccomp, deployment(spec))).toEqual([
      expect.objectContaining({ container: 'b', path: 'spec.template.spec.securityContext.seccompProfile' }),
    ]);
  });

  it('reports Unconfined as a Baseline violation (high everywhere), at the level that sets it', () => {
    const spec = {
      securityContext: { seccompProfile: { type: 'Unconfined' } },
      containers: [
        container('inherits'),
        container('own', { securityContext: { seccompProfile: { type: 'Unconfined' } } }),
        container('confined', { securityContext: { seccompProfile: { type: 'RuntimeDefault' } } }),
      ],
    };
    const hits = runRule(seccomp, pod(spec));
    expect(hits.map((hit) => [hit.container, hit.path, hit.severity?.nonProduction])).toEqual([
      ['inherits', 'spec.securityContext.seccompProfile.type', 'high'],
      ['own', 'spec.containers[1].securityContext.seccompProfile.type', 'high'],
    ]);
  });

  it('lets a container confine itself under an Unconfined pod', () => {
    const spec = {
      securityContext: { seccompProfile: { type: 'Unconfined' } },
      containers: [container('a', { securityContext: { seccompProfile: { type: 'RuntimeDefault' } } })],
    };
    expect(runRule(seccomp, cronJob(spec))).toEqual([]);
  });
});

describe('no-network-policy', () => {
  const network = rule('no-network-policy');
  const web = deployment(
    { containers: [container('app')] },
    { namespace: 'shop', labels: { app: 'web', tier: 'front' } },
  );

  it('passes when a policy in the namespace selects the pod labels', () => {
    const matching = object('NetworkPolicy', 'web', { spec: { podSelector: { matchLabels: { app: 'web' } } } }, 'shop');
    expect(runRule(network, web, [matching])).toEqual([]);
  });

  it('passes an empty podSelector (all pods of the namespace) and matchExpressions', () => {
    const all = object('NetworkPolicy', 'deny', { spec: { podSelector: {} } }, 'shop');
    expect(runRule(network, web, [all], { complete: true })).toEqual([]);
    const expression = object(
      'NetworkPolicy',
      'front',
      { spec: { podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'edge'] }] } } },
      'shop',
    );
    expect(runRule(network, web, [expression], { complete: true })).toEqual([]);
  });

  it('reports when policies exist but none selects the pod, or they are in another namespace', () => {
    const other = object('NetworkPolicy', 'api', { spec: { podSelector: { matchLabels: { app: 'api' } } } }, 'shop');
    const elsewhere = object('NetworkPolicy', 'deny', { spec: { podSelector: {} } }, 'billing');
    const hits = runRule(network, web, [other, elsewhere]);
    expect(hits).toEqual([
      expect.objectContaining({ path: 'spec.template.metadata.labels', message: expect.stringContaining('"shop"') }),
    ]);
    expect(hits[0]?.severity).toBeUndefined();
  });

  it('reports a pod that only egress policies select', () => {
    const egress = object('NetworkPolicy', 'egress', { spec: { podSelector: {}, policyTypes: ['Egress'] } }, 'shop');
    const hits = runRule(network, web, [egress], { complete: true });
    expect(hits[0]?.message).toContain('Only egress');
  });

  it('is only info/low in a partial manifest set with no NetworkPolicy at all', () => {
    const hits = runRule(network, web, [], { complete: false });
    expect(hits).toHaveLength(1);
    expect(hits[0]?.severity).toEqual({ nonProduction: 'info', production: 'low' });
  });

  it('keeps the rule severity for a complete inventory without NetworkPolicies', () => {
    const hits = runRule(network, web, [], { complete: true });
    expect(hits).toHaveLength(1);
    expect(hits[0]?.severity).toBeUndefined();
  });

  it('matches objects without a namespace as the default namespace and uses the Pod and CronJob label paths', () => {
    const deny = object('NetworkPolicy', 'deny', { spec: { podSelector: {} } });
    expect(runRule(network, pod({ containers: [container('app')] }), [deny])).toEqual([]);
    expect(runRule(network, pod({ containers: [container('app')] }), [], { complete: true })[0]?.path).toBe(
      'metadata.labels',
    );
    expect(runRule(network, cronJob({ containers: [container('task')] }), [], { complete: true })[0]?.path).toBe(
      'spec.jobTemplate.spec.template.metadata.labels',
    );
  });

  it('implements label-selector semantics', () => {
    const labels = { app: 'web', tier: 'front' };
    expect(selectorMatches(undefined, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'web', tier: 'back' } }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['back'] }] }, labels)).toBe(
      true,
    );
    expect(selectorMatches({ matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'canary', operator: 'Exists' }] }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'Bogus' }] }, labels)).toBe(false);
  });
});

describe('default-service-account', () => {
  const account = rule('default-service-account');

  it('passes a dedicated ServiceAccount', () => {
    expect(runRule(account, deployment({ serviceAccountName: 'web', containers: [container('app')] }))).toEqual([]);
  });

  it('passes the default account without a token', () => {
    const spec = { automountServiceAccountToken: false, containers: [container('app')] };
    expect(runRule(account, deployment(spec))).toEqual([]);
  });

  it('reports a pod that names no account, or "default", with the token mounted', () => {
    expect(runRule(account, deployment({ containers: [container('app')] }))).toEqual([
      expect.objectContaining({ path: 'spec.template.spec.serviceAccountName' }),
    ]);
    expect(
      runRule(
        account,
        job({ serviceAccountName: 'default', automountServiceAccountToken: true, containers: [container('m')] }),
      ),
    ).toHaveLength(1);
  });

  it('uses the ServiceAccount object when it disables the token, unless the pod turns it back on', () => {
    const quiet = object('ServiceAccount', 'default', { automountServiceAccountToken: false }, 'shop');
    const inShop = { namespace: 'shop' };
    expect(runRule(account, deployment({ containers: [container('app')] }, inShop), [quiet])).toEqual([]);
    expect(
      runRule(account, deployment({ automountServiceAccountToken: true, containers: [container('app')] }, inShop), [
        quiet,
      ]),
    ).toHaveLength(1);
    // The same ServiceAccount name in another namespace does not count.
    expect(
      runRule(account, deployment({ containers: [container('app')] }, { namespace: 'other' }), [quiet]),
    ).toHaveLength(1);
  });

  it('honours the deprecated serviceAccount field', () => {
    expect(runRule(account, pod({ serviceAccount: 'web', containers: [container('app')] }))).toEqual([]);
  });
});
