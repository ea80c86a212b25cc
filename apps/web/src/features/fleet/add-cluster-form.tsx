import { useEffect, useState, type FormEvent } from 'react';
import { Alert, Button, Group, Loader, NativeSelect, Stack, Text, TextInput } from '@mantine/core';
import { Cluster, ClusterName, CreateClusterResponse, ENVIRONMENTS, OrgList, type Environment } from '@niro/protocol';
import { Value } from 'typebox/value';
import { ApiError, apiSend, checked, errorText } from '../../lib/api.js';
import { useRouter } from '../../lib/router.js';
import { useApi } from '../../lib/use-api.js';
import {
  CopyBlock,
  LabelRows,
  formatWhen,
  labelsFromRows,
  roleAtLeast,
  type LabelRow,
} from '../settings/settings-ui.js';

/** ClusterName's maxLength: a DNS label. */
const NAME_MAX = 63;
const POLL_MS = 2000;
const isEnvironment = (v: string): v is Environment => ENVIRONMENTS.some((e) => e === v);

/** The name rule of ClusterName (a DNS label), in words; null when the name fits. */
function nameProblem(name: string): string | null {
  if (name === '') return 'A name is needed';
  if (name.length > NAME_MAX) return `At most ${NAME_MAX} characters`;
  if (!Value.Check(ClusterName, name)) {
    return 'Lower-case letters, digits and dashes; starts and ends with a letter or digit (a DNS label)';
  }
  return null;
}

/** Step one: name, environment, labels (and the organization when there are several). Step two: install and wait. */
export function AddClusterForm({ onClose }: { onClose: () => void }) {
  const [created, setCreated] = useState<CreateClusterResponse | null>(null);
  if (created !== null) return <WaitForAgent created={created} onClose={onClose} />;
  return <ClusterForm onCreated={setCreated} onClose={onClose} />;
}

function ClusterForm({ onCreated, onClose }: { onCreated: (c: CreateClusterResponse) => void; onClose: () => void }) {
  const orgs = useApi('/orgs', OrgList);
  const writable = (orgs.data?.items ?? []).filter((o) => roleAtLeast(o.role, 'member'));
  const [orgId, setOrgId] = useState('');
  const [name, setName] = useState('');
  const [touched, setTouched] = useState(false);
  const [environment, setEnvironment] = useState<Environment>('production');
  const [labels, setLabels] = useState<LabelRow[]>([]);
  const [nameError, setNameError] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  const localNameProblem = touched ? nameProblem(name) : null;

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setTouched(true);
    setNameError(null);
    setFormError(null);
    if (nameProblem(name) !== null) return;
    const parsed = labelsFromRows(labels);
    if ('error' in parsed) {
      setFormError(parsed.error);
      return;
    }
    const chosenOrg = writable.length > 1 ? orgId || writable[0]?.id : undefined;
    setPending(true);
    try {
      const reply = await apiSend('POST', '/clusters', {
        name,
        environment,
        labels: parsed.labels,
        ...(chosenOrg === undefined ? {} : { orgId: chosenOrg }),
      });
      onCreated(checked(CreateClusterResponse, reply, 'the new cluster'));
    } catch (err) {
      if (err instanceof ApiError && (err.code === 'cluster_name_taken' || err.message.includes('body.name'))) {
        setNameError(err.message);
      } else setFormError(errorText(err));
    } finally {
      setPending(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} aria-label="New cluster" noValidate>
      <Stack gap="sm">
        <TextInput
          label="Name"
          description="Lower-case letters, digits and dashes, e.g. shop-berlin"
          required
          maxLength={NAME_MAX}
          value={name}
          onChange={(e) => {
            setName(e.currentTarget.value);
            setNameError(null);
          }}
          onBlur={() => setTouched(name !== '')}
          error={nameError ?? localNameProblem}
          data-autofocus
          autoComplete="off"
        />
        {writable.length > 1 && (
          <NativeSelect
            label="Organization"
            value={orgId || (writable[0]?.id ?? '')}
            onChange={(e) => setOrgId(e.currentTarget.value)}
            data={writable.map((o) => ({ value: o.id, label: o.name }))}
          />
        )}
        <NativeSelect
          label="Environment"
          value={environment}
          onChange={(e) => {
            const v = e.currentTarget.value;
            if (isEnvironment(v)) setEnvironment(v);
          }}
          data={ENVIRONMENTS.map((env) => ({ value: env, label: env }))}
        />
        <LabelRows legend="Labels" rows={labels} onChange={setLabels} />
        {formError !== null && (
          <Alert color="red" role="alert">
            {formError}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" loading={pending}>
            Create cluster
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** The install command and a live wait for the agent's first heartbeat; then the cluster's page. */
function WaitForAgent({ created, onClose }: { created: CreateClusterResponse; onClose: () => void }) {
  const { navigate } = useRouter();
  const id = created.cluster.id;
  const cluster = useApi(`/clusters/${encodeURIComponent(id)}`, Cluster, POLL_MS);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  const current = cluster.data ?? created.cluster;
  const reported = current.lastHeartbeatAt !== null || current.status !== 'pending';
  useEffect(() => {
    if (reported) navigate(`/clusters/${encodeURIComponent(id)}`);
  }, [reported, id, navigate]);

  const expiresAt = created.enrollment.expiresAt;
  const expired = Date.parse(expiresAt) <= now;
  return (
    <Stack gap="sm" data-testid="add-cluster-install">
      <Text size="sm">
        <strong>{created.cluster.name}</strong> was created. Run this where kubectl reaches the cluster; it installs the
        agent, which connects out to Niro (no inbound port is needed).
      </Text>
      <CopyBlock value={created.enrollment.installCommand} label="install command" testId="install-command" />
      <Text size="sm" c={expired ? 'red' : 'dimmed'} data-testid="token-expiry">
        The command holds a single-use enrollment token; it {expired ? 'expired' : 'expires'}{' '}
        {formatWhen(expiresAt, now)}. It is shown only now.
      </Text>
      <Group gap="xs" role="status" aria-live="polite" data-testid="waiting-for-agent">
        <Loader size="xs" />
        <Text size="sm">
          {current.enrolledAt === null ? 'Waiting for the agent…' : 'The agent enrolled; waiting for its first report…'}
        </Text>
      </Group>
      {cluster.error !== null && (
        <Text size="xs" c="red">
          Checking the cluster failed ({cluster.error}); trying again.
        </Text>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={onClose}>
          Close (the cluster waits in the fleet)
        </Button>
      </Group>
    </Stack>
  );
}
