import type { ReactNode } from 'react';
import { Button, Checkbox, Fieldset, Group, NativeSelect, Stack, Text, TextInput } from '@mantine/core';
import type {
  DeploymentForm,
  FormContainerPort,
  FormEnvVar,
  FormIngress,
  FormProbe,
  FormService,
  FormServicePort,
  FormVolume,
  Registry,
} from '@niro/protocol';
import { numberText, optional, parseNumber, parsePortRef } from './form-checks.js';

type Props = {
  form: DeploymentForm;
  onChange: (form: DeploymentForm) => void;
  issues: Map<string, string>;
  registries: readonly Registry[];
  disabled?: boolean;
};

const PROBES = ['readiness', 'liveness', 'startup'] as const;
const ACCESS_MODES = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'] as const;

function Row({ children }: { children: ReactNode }) {
  return (
    <Group gap="xs" align="flex-start" wrap="wrap">
      {children}
    </Group>
  );
}

function without<T>(list: readonly T[], index: number): T[] {
  return list.filter((_, i) => i !== index);
}

function replaced<T>(list: readonly T[], index: number, item: T): T[] {
  return list.map((x, i) => (i === index ? item : x));
}

/**
 * Every field of the builder's form, in sections, with the client-side checks next to the field
 * they concern. Numbers typed as text (an empty field is a missing number the check names).
 */
export function BuilderForm({ form, onChange, issues, registries, disabled = false }: Props) {
  const set = (patch: Partial<DeploymentForm>): void => onChange({ ...form, ...patch });
  const err = (path: string): string | undefined => issues.get(path);
  const ports = form.ports ?? [];
  const env = form.env ?? [];
  const volumes = form.volumes ?? [];
  const labels = Object.entries(form.labels ?? {});
  const annotations = Object.entries(form.annotations ?? {});

  return (
    <Stack gap="md" data-testid="builder-form">
      <Fieldset legend="Container" disabled={disabled}>
        <Stack gap="xs">
          <Row>
            <TextInput
              label="App name"
              description="Names the Deployment, its container, Service, Ingress and HPA"
              value={form.name}
              onChange={(e) => set({ name: e.currentTarget.value })}
              error={err('name')}
              w={240}
            />
            <TextInput
              label="Image"
              description="Prefer a fixed tag or a digest"
              value={form.image}
              onChange={(e) => set({ image: e.currentTarget.value })}
              error={err('image')}
              style={{ flex: 1, minWidth: 240 }}
            />
          </Row>
          <Row>
            <NativeSelect
              label="Registry credential"
              description="For a private image: Niro creates the pull Secret"
              value={form.registryId ?? ''}
              onChange={(e) => set({ registryId: optional(e.currentTarget.value) })}
              data={[
                { value: '', label: 'None (public image)' },
                ...registries.map((r) => ({ value: r.id, label: `${r.name} (${r.server})` })),
              ]}
              error={err('registryId')}
              w={300}
            />
            <TextInput
              label="Replicas"
              description={form.hpa === undefined ? '0 to 1000' : 'The autoscaler sets the count'}
              inputMode="numeric"
              value={numberText(form.replicas)}
              onChange={(e) => set({ replicas: parseNumber(e.currentTarget.value) })}
              error={err('replicas')}
              w={160}
            />
            <TextInput
              label="Progress deadline (seconds)"
              description="Stalled after this long (default 600)"
              inputMode="numeric"
              value={numberText(form.progressDeadlineSeconds)}
              onChange={(e) =>
                set({
                  progressDeadlineSeconds:
                    e.currentTarget.value.trim() === '' ? undefined : parseNumber(e.currentTarget.value),
                })
              }
              error={err('progressDeadlineSeconds')}
              w={220}
            />
          </Row>
        </Stack>
      </Fieldset>

      <Fieldset legend="Container ports" disabled={disabled}>
        <Stack gap="xs">
          {ports.map((p, i) => {
            const put = (patch: Partial<FormContainerPort>): void =>
              set({ ports: replaced(ports, i, { ...p, ...patch }) });
            return (
              <Row key={i}>
                <TextInput
                  label={`Port ${i + 1} name`}
                  value={p.name ?? ''}
                  onChange={(e) => put({ name: optional(e.currentTarget.value) })}
                  error={err(`ports[${i}].name`)}
                  w={160}
                />
                <TextInput
                  label={`Port ${i + 1} number`}
                  inputMode="numeric"
                  value={numberText(p.containerPort)}
                  onChange={(e) => put({ containerPort: parseNumber(e.currentTarget.value) })}
                  error={err(`ports[${i}].containerPort`)}
                  w={140}
                />
                <NativeSelect
                  label={`Port ${i + 1} protocol`}
                  value={p.protocol}
                  onChange={(e) => put({ protocol: e.currentTarget.value === 'UDP' ? 'UDP' : 'TCP' })}
                  data={['TCP', 'UDP']}
                  w={120}
                />
                <RemoveButton label={`Remove port ${i + 1}`} onClick={() => set({ ports: without(ports, i) })} />
              </Row>
            );
          })}
          <AddButton onClick={() => set({ ports: [...ports, { containerPort: 8080, protocol: 'TCP' }] })}>
            Add port
          </AddButton>
        </Stack>
      </Fieldset>

      <ServiceFields form={form} set={set} err={err} disabled={disabled} />
      <IngressFields form={form} set={set} err={err} disabled={disabled} />

      <Fieldset legend="Environment variables" disabled={disabled}>
        <Stack gap="xs">
          {env.map((v, i) => {
            const fromSecret = 'secretName' in v;
            const put = (next: FormEnvVar): void => set({ env: replaced(env, i, next) });
            return (
              <Row key={i}>
                <TextInput
                  label={`Variable ${i + 1} name`}
                  value={v.name}
                  onChange={(e) => put({ ...v, name: e.currentTarget.value })}
                  error={err(`env[${i}].name`)}
                  w={200}
                />
                <NativeSelect
                  label={`Variable ${i + 1} source`}
                  value={fromSecret ? 'secret' : 'value'}
                  onChange={(e) =>
                    put(
                      e.currentTarget.value === 'secret'
                        ? { name: v.name, secretName: '', secretKey: '' }
                        : { name: v.name, value: '' },
                    )
                  }
                  data={[
                    { value: 'value', label: 'Value' },
                    { value: 'secret', label: 'From a Secret' },
                  ]}
                  w={150}
                />
                {'secretName' in v ? (
                  <>
                    <TextInput
                      label={`Variable ${i + 1} Secret`}
                      value={v.secretName}
                      onChange={(e) => put({ ...v, secretName: e.currentTarget.value })}
                      error={err(`env[${i}].secretName`)}
                      w={180}
                    />
                    <TextInput
                      label={`Variable ${i + 1} key`}
                      value={v.secretKey}
                      onChange={(e) => put({ ...v, secretKey: e.currentTarget.value })}
                      error={err(`env[${i}].secretKey`)}
                      w={160}
                    />
                  </>
                ) : (
                  <TextInput
                    label={`Variable ${i + 1} value`}
                    value={v.value}
                    onChange={(e) => put({ ...v, value: e.currentTarget.value })}
                    error={err(`env[${i}].value`) ?? err(`env[${i}]`)}
                    style={{ flex: 1, minWidth: 200 }}
                  />
                )}
                <RemoveButton label={`Remove variable ${i + 1}`} onClick={() => set({ env: without(env, i) })} />
              </Row>
            );
          })}
          <AddButton onClick={() => set({ env: [...env, { name: '', value: '' }] })}>Add variable</AddButton>
          <Text size="xs" c="dimmed">
            Put passwords and tokens in a Secret: policy reports secrets written as plain values.
          </Text>
        </Stack>
      </Fieldset>

      <Fieldset legend="Resources" disabled={disabled}>
        <Row>
          {(['requests', 'limits'] as const).flatMap((kind) =>
            (['cpu', 'memory'] as const).map((key) => (
              <TextInput
                key={`${kind}.${key}`}
                label={`${key === 'cpu' ? 'CPU' : 'Memory'} ${kind === 'requests' ? 'request' : 'limit'}`}
                placeholder={key === 'cpu' ? '250m' : '256Mi'}
                value={form.resources?.[kind]?.[key] ?? ''}
                onChange={(e) => {
                  const amounts = { ...form.resources?.[kind], [key]: optional(e.currentTarget.value) };
                  set({ resources: { ...form.resources, [kind]: amounts } });
                }}
                error={err(`resources.${kind}.${key}`)}
                w={170}
              />
            )),
          )}
        </Row>
      </Fieldset>

      <Fieldset legend="Probes" disabled={disabled}>
        <Stack gap="sm">
          {PROBES.map((which) => (
            <ProbeFields
              key={which}
              which={which}
              probe={form.probes?.[which]}
              onChange={(probe) => set({ probes: { ...form.probes, [which]: probe } })}
              err={err}
            />
          ))}
        </Stack>
      </Fieldset>

      <Fieldset legend="Persistent volumes" disabled={disabled}>
        <Stack gap="xs">
          {volumes.map((v, i) => {
            const put = (patch: Partial<FormVolume>): void =>
              set({ volumes: replaced(volumes, i, { ...v, ...patch }) });
            return (
              <Row key={i}>
                <TextInput
                  label={`Volume ${i + 1} name`}
                  value={v.name}
                  onChange={(e) => put({ name: e.currentTarget.value })}
                  error={err(`volumes[${i}].name`)}
                  w={150}
                />
                <TextInput
                  label={`Volume ${i + 1} size`}
                  value={v.size}
                  onChange={(e) => put({ size: e.currentTarget.value })}
                  error={err(`volumes[${i}].size`)}
                  w={110}
                />
                <TextInput
                  label={`Volume ${i + 1} mount path`}
                  value={v.mountPath}
                  onChange={(e) => put({ mountPath: e.currentTarget.value })}
                  error={err(`volumes[${i}].mountPath`)}
                  w={180}
                />
                <TextInput
                  label={`Volume ${i + 1} storage class`}
                  placeholder="cluster default"
                  value={v.storageClassName ?? ''}
                  onChange={(e) => put({ storageClassName: optional(e.currentTarget.value) })}
                  error={err(`volumes[${i}].storageClassName`)}
                  w={170}
                />
                <NativeSelect
                  label={`Volume ${i + 1} access mode`}
                  value={v.accessMode ?? 'ReadWriteOnce'}
                  onChange={(e) => put({ accessMode: ACCESS_MODES.find((m) => m === e.currentTarget.value) })}
                  data={[...ACCESS_MODES]}
                  w={180}
                />
                <RemoveButton label={`Remove volume ${i + 1}`} onClick={() => set({ volumes: without(volumes, i) })} />
              </Row>
            );
          })}
          <AddButton
            onClick={() =>
              set({ volumes: [...volumes, { name: `data${volumes.length || ''}`, size: '1Gi', mountPath: '/data' }] })
            }
          >
            Add volume
          </AddButton>
        </Stack>
      </Fieldset>

      <Fieldset legend="Autoscaling" disabled={disabled}>
        <Stack gap="xs">
          <Checkbox
            label="Scale on CPU use with a HorizontalPodAutoscaler (needs a CPU request)"
            checked={form.hpa !== undefined}
            onChange={(e) =>
              set({
                hpa: e.currentTarget.checked ? { minReplicas: 2, maxReplicas: 5, cpuTargetPercent: 80 } : undefined,
              })
            }
          />
          {form.hpa !== undefined && (
            <Row>
              {(['minReplicas', 'maxReplicas', 'cpuTargetPercent'] as const).map((key) => (
                <TextInput
                  key={key}
                  label={
                    key === 'minReplicas'
                      ? 'Minimum replicas'
                      : key === 'maxReplicas'
                        ? 'Maximum replicas'
                        : 'CPU target %'
                  }
                  inputMode="numeric"
                  value={numberText(form.hpa?.[key])}
                  onChange={(e) => {
                    const hpa = form.hpa;
                    if (hpa !== undefined) set({ hpa: { ...hpa, [key]: parseNumber(e.currentTarget.value) } });
                  }}
                  error={err(`hpa.${key}`)}
                  w={160}
                />
              ))}
            </Row>
          )}
        </Stack>
      </Fieldset>

      <KeyValueFields
        legend="Labels"
        what="Label"
        entries={labels}
        onChange={(entries) => set({ labels: Object.fromEntries(entries) })}
        err={(key) => err(`labels.${key}`)}
        disabled={disabled}
      />
      <KeyValueFields
        legend="Annotations"
        what="Annotation"
        entries={annotations}
        onChange={(entries) => set({ annotations: Object.fromEntries(entries) })}
        err={(key) => err(`annotations.${key}`)}
        disabled={disabled}
      />
    </Stack>
  );
}

type SectionProps = {
  form: DeploymentForm;
  set: (patch: Partial<DeploymentForm>) => void;
  err: (path: string) => string | undefined;
  disabled: boolean;
};

function ServiceFields({ form, set, err, disabled }: SectionProps) {
  const service = form.service;
  const putService = (next: FormService): void => set({ service: next });
  return (
    <Fieldset legend="Service" disabled={disabled}>
      <Stack gap="xs">
        <Checkbox
          label="Expose the pods with a Service"
          checked={service !== undefined}
          onChange={(e) =>
            set({
              service: e.currentTarget.checked
                ? { type: 'ClusterIP', ports: [{ port: 80, targetPort: form.ports?.[0]?.containerPort ?? 80 }] }
                : undefined,
            })
          }
        />
        {service !== undefined && (
          <>
            <NativeSelect
              label="Service type"
              value={service.type}
              onChange={(e) => {
                const t = e.currentTarget.value;
                putService({ ...service, type: t === 'NodePort' || t === 'LoadBalancer' ? t : 'ClusterIP' });
              }}
              data={['ClusterIP', 'NodePort', 'LoadBalancer']}
              w={200}
            />
            {service.ports.map((p, i) => {
              const put = (patch: Partial<FormServicePort>): void =>
                putService({ ...service, ports: replaced(service.ports, i, { ...p, ...patch }) });
              return (
                <Row key={i}>
                  <TextInput
                    label={`Service port ${i + 1} name`}
                    value={p.name ?? ''}
                    onChange={(e) => put({ name: optional(e.currentTarget.value) })}
                    error={err(`service.ports[${i}].name`)}
                    w={160}
                  />
                  <TextInput
                    label={`Service port ${i + 1} port`}
                    inputMode="numeric"
                    value={numberText(p.port)}
                    onChange={(e) => put({ port: parseNumber(e.currentTarget.value) })}
                    error={err(`service.ports[${i}].port`)}
                    w={140}
                  />
                  <TextInput
                    label={`Service port ${i + 1} target`}
                    description="Number or container port name"
                    value={String(p.targetPort)}
                    onChange={(e) => put({ targetPort: parsePortRef(e.currentTarget.value) })}
                    error={err(`service.ports[${i}].targetPort`)}
                    w={200}
                  />
                  {service.type !== 'ClusterIP' && (
                    <TextInput
                      label={`Service port ${i + 1} node port`}
                      inputMode="numeric"
                      value={numberText(p.nodePort)}
                      onChange={(e) =>
                        put({ nodePort: e.currentTarget.value === '' ? undefined : parseNumber(e.currentTarget.value) })
                      }
                      error={err(`service.ports[${i}].nodePort`)}
                      w={160}
                    />
                  )}
                  {service.ports.length > 1 && (
                    <RemoveButton
                      label={`Remove service port ${i + 1}`}
                      onClick={() => putService({ ...service, ports: without(service.ports, i) })}
                    />
                  )}
                </Row>
              );
            })}
            <AddButton
              onClick={() => putService({ ...service, ports: [...service.ports, { port: 8080, targetPort: 8080 }] })}
            >
              Add service port
            </AddButton>
          </>
        )}
      </Stack>
    </Fieldset>
  );
}

function IngressFields({ form, set, err, disabled }: SectionProps) {
  const ingress = form.ingress;
  const put = (patch: Partial<FormIngress>): void => {
    if (ingress !== undefined) set({ ingress: { ...ingress, ...patch } });
  };
  return (
    <Fieldset legend="Ingress" disabled={disabled}>
      <Stack gap="xs">
        <Checkbox
          label="Route a host name to the Service with an Ingress"
          checked={ingress !== undefined}
          onChange={(e) =>
            set({
              ingress: e.currentTarget.checked
                ? { host: `${form.name}.example.com`, path: '/', servicePort: form.service?.ports[0]?.port ?? 80 }
                : undefined,
            })
          }
        />
        {err('ingress') !== undefined && (
          <Text size="sm" c="red">
            {err('ingress')}
          </Text>
        )}
        {ingress !== undefined && (
          <Row>
            <TextInput
              label="Host"
              value={ingress.host}
              onChange={(e) => put({ host: e.currentTarget.value })}
              error={err('ingress.host')}
              w={240}
            />
            <TextInput
              label="Path"
              value={ingress.path}
              onChange={(e) => put({ path: e.currentTarget.value })}
              error={err('ingress.path')}
              w={120}
            />
            <NativeSelect
              label="Path type"
              value={ingress.pathType ?? 'Prefix'}
              onChange={(e) => put({ pathType: e.currentTarget.value === 'Exact' ? 'Exact' : 'Prefix' })}
              data={['Prefix', 'Exact']}
              w={120}
            />
            <TextInput
              label="Service port"
              value={String(ingress.servicePort)}
              onChange={(e) => put({ servicePort: parsePortRef(e.currentTarget.value) })}
              error={err('ingress.servicePort')}
              w={130}
            />
            <TextInput
              label="TLS Secret"
              placeholder="none"
              value={ingress.tlsSecretName ?? ''}
              onChange={(e) => put({ tlsSecretName: optional(e.currentTarget.value) })}
              error={err('ingress.tlsSecretName')}
              w={160}
            />
            <TextInput
              label="Ingress class"
              placeholder="cluster default"
              value={ingress.className ?? ''}
              onChange={(e) => put({ className: optional(e.currentTarget.value) })}
              error={err('ingress.className')}
              w={160}
            />
          </Row>
        )}
      </Stack>
    </Fieldset>
  );
}

const PROBE_LABEL: Record<(typeof PROBES)[number], string> = {
  readiness: 'Readiness probe',
  liveness: 'Liveness probe',
  startup: 'Startup probe',
};

function ProbeFields({
  which,
  probe,
  onChange,
  err,
}: {
  which: (typeof PROBES)[number];
  probe: FormProbe | undefined;
  onChange: (probe: FormProbe | undefined) => void;
  err: (path: string) => string | undefined;
}) {
  const label = PROBE_LABEL[which];
  const at = `probes.${which}`;
  const put = (patch: Partial<FormProbe>): void => {
    if (probe !== undefined) onChange({ ...probe, ...patch });
  };
  return (
    <Stack gap={4}>
      <Checkbox
        label={label}
        checked={probe !== undefined}
        onChange={(e) => onChange(e.currentTarget.checked ? { type: 'http', path: '/', port: 80 } : undefined)}
      />
      {probe !== undefined && (
        <Row>
          <NativeSelect
            label={`${label} type`}
            value={probe.type}
            onChange={(e) => {
              const t = e.currentTarget.value;
              const timings = {
                initialDelaySeconds: probe.initialDelaySeconds,
                periodSeconds: probe.periodSeconds,
                timeoutSeconds: probe.timeoutSeconds,
                failureThreshold: probe.failureThreshold,
              };
              if (t === 'exec') onChange({ type: 'exec', command: ['true'], ...timings });
              else if (t === 'tcp') onChange({ type: 'tcp', port: probe.port ?? 80, ...timings });
              else onChange({ type: 'http', path: probe.path ?? '/', port: probe.port ?? 80, ...timings });
            }}
            data={[
              { value: 'http', label: 'HTTP GET' },
              { value: 'tcp', label: 'TCP connect' },
              { value: 'exec', label: 'Command' },
            ]}
            w={150}
          />
          {probe.type === 'http' && (
            <TextInput
              label={`${label} path`}
              value={probe.path ?? ''}
              onChange={(e) => put({ path: optional(e.currentTarget.value) })}
              error={err(`${at}.path`)}
              w={140}
            />
          )}
          {probe.type !== 'exec' && (
            <TextInput
              label={`${label} port`}
              value={probe.port === undefined ? '' : String(probe.port)}
              onChange={(e) =>
                put({ port: e.currentTarget.value === '' ? undefined : parsePortRef(e.currentTarget.value) })
              }
              error={err(`${at}.port`)}
              w={130}
            />
          )}
          {probe.type === 'exec' && (
            <TextInput
              label={`${label} command`}
              description="Arguments separated by spaces"
              value={(probe.command ?? []).join(' ')}
              onChange={(e) => {
                const args = e.currentTarget.value.split(/\s+/).filter((a) => a !== '');
                put({ command: args.length === 0 ? undefined : args });
              }}
              error={err(`${at}.command`)}
              w={240}
            />
          )}
          {(['initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'failureThreshold'] as const).map((key) => (
            <TextInput
              key={key}
              label={`${label} ${TIMING_LABEL[key]}`}
              placeholder="default"
              inputMode="numeric"
              value={numberText(probe[key])}
              onChange={(e) =>
                put({ [key]: e.currentTarget.value === '' ? undefined : parseNumber(e.currentTarget.value) })
              }
              error={err(`${at}.${key}`)}
              w={150}
            />
          ))}
        </Row>
      )}
    </Stack>
  );
}

const TIMING_LABEL = {
  initialDelaySeconds: 'delay (s)',
  periodSeconds: 'period (s)',
  timeoutSeconds: 'timeout (s)',
  failureThreshold: 'failures',
} as const;

function KeyValueFields({
  legend,
  what,
  entries,
  onChange,
  err,
  disabled,
}: {
  legend: string;
  what: string;
  entries: [string, string][];
  onChange: (entries: [string, string][]) => void;
  err: (key: string) => string | undefined;
  disabled: boolean;
}) {
  return (
    <Fieldset legend={legend} disabled={disabled}>
      <Stack gap="xs">
        {entries.map(([key, value], i) => (
          <Row key={i}>
            <TextInput
              label={`${what} ${i + 1} key`}
              value={key}
              onChange={(e) => onChange(replaced(entries, i, [e.currentTarget.value, value]))}
              error={err(key)}
              w={240}
            />
            <TextInput
              label={`${what} ${i + 1} value`}
              value={value}
              onChange={(e) => onChange(replaced(entries, i, [key, e.currentTarget.value]))}
              w={240}
            />
            <RemoveButton
              label={`Remove ${what.toLowerCase()} ${i + 1}`}
              onClick={() => onChange(without(entries, i))}
            />
          </Row>
        ))}
        <AddButton onClick={() => onChange([...entries, [`key${entries.length + 1}`, '']])}>
          Add {what.toLowerCase()}
        </AddButton>
      </Stack>
    </Fieldset>
  );
}

function AddButton({ onClick, children }: { onClick: () => void; children: ReactNode }) {
  return (
    <Group>
      <Button variant="default" size="xs" onClick={onClick}>
        {children}
      </Button>
    </Group>
  );
}

function RemoveButton({ label, onClick }: { label: string; onClick: () => void }) {
  return (
    <Button variant="subtle" color="red" size="xs" mt={26} onClick={onClick} aria-label={label}>
      Remove
    </Button>
  );
}
