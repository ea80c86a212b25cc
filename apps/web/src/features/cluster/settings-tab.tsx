import { useEffect, useState } from 'react';
import {
  ActionIcon,
  Alert,
  Button,
  Code,
  CopyButton,
  Divider,
  Group,
  Modal,
  NativeSelect,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { Value } from 'typebox/value';
import {
  Cluster,
  ClusterName,
  ENVIRONMENTS,
  EnrollmentInfo,
  Labels,
  Me,
  type Environment,
  type Role,
} from '@niro/protocol';
import { apiSend, checked, errorText } from '../../lib/api.js';
import { useApi } from '../../lib/use-api.js';
import { useRouter } from '../../lib/router.js';
import { formatTime } from '../../lib/format.js';

const RANK: Record<Role, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };
const atLeast = (role: Role | null, min: Role): boolean => role === null || RANK[role] >= RANK[min];

type LabelRow = { key: string; value: string };

/** The key pattern of the API's Labels schema (a Record with one key pattern), read from the schema itself. */
const LABEL_KEY = new RegExp(Object.keys(Labels.patternProperties)[0] ?? '^.+$');
const LABELS_MAX = 'maxProperties' in Labels && typeof Labels.maxProperties === 'number' ? Labels.maxProperties : 64;

/** What is wrong with one label row, in the words the API would use, or null. */
export function labelError(row: LabelRow, rows: LabelRow[]): string | null {
  if (row.key === '') return 'the key is empty';
  if (!LABEL_KEY.test(row.key)) {
    return 'use letters, digits, ".", "_", "-" and "/" in the key, start and end with a letter or digit, at most 253 characters';
  }
  if (rows.filter((r) => r.key === row.key).length > 1) return 'this key appears twice';
  if (!Value.Check(Labels, { [row.key]: row.value })) {
    return 'the value: at most 63 letters, digits, ".", "_" or "-", starting and ending with a letter or digit (or empty)';
  }
  return null;
}

export function nameError(name: string): string | null {
  return Value.Check(ClusterName, name)
    ? null
    : 'lower-case letters, digits and dashes, starting and ending with a letter or digit, at most 63 characters';
}

const isEnvironment = (v: string): v is Environment => ENVIRONMENTS.some((e) => e === v);

/**
 * Rename, environment and labels (PATCH), a new enrollment token, and delete. The role the user
 * has in the cluster's organization decides what is editable; the server checks it again (403).
 */
export function SettingsTab({ cluster, onUpdated }: { cluster: Cluster; onUpdated: (cluster: Cluster) => void }) {
  const me = useApi('/me', Me);
  // An org missing from /me (reached through a parent) leaves the role unknown: the controls stay
  // enabled and the server's 403 explains, rather than locking out someone who may edit.
  const role = me.data?.orgs.find((o) => o.id === cluster.orgId)?.role ?? null;
  const canEdit = atLeast(role, 'member');
  const canAdmin = atLeast(role, 'admin');
  return (
    <Stack gap="xl" maw={820}>
      {role !== null && !canEdit && (
        <Alert color="blue" title="Read-only" data-testid="settings-read-only">
          You are a {role} in this cluster’s organization. Changing a cluster needs the member role; issuing a token or
          deleting it needs admin.
        </Alert>
      )}
      <GeneralForm cluster={cluster} canEdit={canEdit} onUpdated={onUpdated} />
      <Divider />
      <EnrollmentSection cluster={cluster} canAdmin={canAdmin} />
      <Divider />
      <DeleteSection cluster={cluster} canAdmin={canAdmin} />
    </Stack>
  );
}

function GeneralForm({
  cluster,
  canEdit,
  onUpdated,
}: {
  cluster: Cluster;
  canEdit: boolean;
  onUpdated: (cluster: Cluster) => void;
}) {
  const [name, setName] = useState(cluster.name);
  const [environment, setEnvironment] = useState<Environment>(cluster.environment);
  const [rows, setRows] = useState<LabelRow[]>(() =>
    Object.entries(cluster.labels).map(([key, value]) => ({ key, value })),
  );
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [touched, setTouched] = useState(false);

  // A poll that brings changes made elsewhere refreshes the form, unless the user is editing it.
  useEffect(() => {
    if (touched) return;
    setName(cluster.name);
    setEnvironment(cluster.environment);
    setRows(Object.entries(cluster.labels).map(([key, value]) => ({ key, value })));
  }, [cluster, touched]);

  const edit = (): void => {
    setTouched(true);
    setSaved(false);
  };
  const nameProblem = nameError(name);
  const rowProblems = rows.map((r) => labelError(r, rows));
  const invalid = nameProblem !== null || rowProblems.some((p) => p !== null) || rows.length > LABELS_MAX;

  const save = async (): Promise<void> => {
    setSaving(true);
    setError(null);
    try {
      const labels = Object.fromEntries(rows.map((r) => [r.key, r.value]));
      const reply = await apiSend('PATCH', `/clusters/${encodeURIComponent(cluster.id)}`, {
        name,
        environment,
        labels,
      });
      onUpdated(checked(Cluster, reply, 'the updated cluster'));
      setTouched(false);
      setSaved(true);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <Stack
      gap="sm"
      component="form"
      aria-labelledby="general-title"
      onSubmit={(e) => {
        e.preventDefault();
        if (!invalid && canEdit) void save();
      }}
    >
      <Title order={3} size="h5" id="general-title">
        Name, environment and labels
      </Title>
      <TextInput
        label="Name"
        description="Lower-case letters, digits and dashes"
        value={name}
        onChange={(e) => {
          setName(e.currentTarget.value);
          edit();
        }}
        error={nameProblem}
        readOnly={!canEdit}
        maw={420}
      />
      <NativeSelect
        label="Environment"
        description="Production raises the severity of policy findings"
        data={[...ENVIRONMENTS]}
        value={environment}
        onChange={(e) => {
          const v = e.currentTarget.value;
          if (isEnvironment(v)) setEnvironment(v);
          edit();
        }}
        disabled={!canEdit}
        maw={420}
      />
      <Stack gap={6} role="group" aria-labelledby="labels-title">
        <Text size="sm" fw={500} id="labels-title">
          Labels
        </Text>
        {rows.length === 0 && (
          <Text size="sm" c="dimmed">
            No labels. Labels let you filter the fleet (region=eu) and route notifications.
          </Text>
        )}
        {rows.map((row, i) => (
          <Group key={i} gap="xs" align="start" wrap="nowrap" data-testid="label-row">
            <TextInput
              aria-label={`Label ${i + 1} key`}
              placeholder="key"
              value={row.key}
              readOnly={!canEdit}
              error={rowProblems[i] ?? undefined}
              onChange={(e) => {
                const key = e.currentTarget.value;
                setRows((rs) => rs.map((r, j) => (j === i ? { ...r, key } : r)));
                edit();
              }}
              style={{ flex: 1 }}
            />
            <TextInput
              aria-label={`Label ${i + 1} value`}
              placeholder="value"
              value={row.value}
              readOnly={!canEdit}
              onChange={(e) => {
                const value = e.currentTarget.value;
                setRows((rs) => rs.map((r, j) => (j === i ? { ...r, value } : r)));
                edit();
              }}
              style={{ flex: 1 }}
            />
            {canEdit && (
              <ActionIcon
                variant="subtle"
                color="gray"
                size="lg"
                aria-label={`Remove label ${row.key === '' ? i + 1 : row.key}`}
                onClick={() => {
                  setRows((rs) => rs.filter((_, j) => j !== i));
                  edit();
                }}
              >
                ×
              </ActionIcon>
            )}
          </Group>
        ))}
        {canEdit && (
          <Group>
            <Button
              variant="subtle"
              size="xs"
              disabled={rows.length >= LABELS_MAX}
              onClick={() => {
                setRows((rs) => [...rs, { key: '', value: '' }]);
                edit();
              }}
            >
              Add label
            </Button>
            {rows.length >= LABELS_MAX && (
              <Text size="xs" c="dimmed">
                At most {LABELS_MAX} labels
              </Text>
            )}
          </Group>
        )}
      </Stack>
      {error !== null && (
        <Alert color="red" title="Not saved" role="alert" data-testid="settings-error">
          {error}
        </Alert>
      )}
      {canEdit && (
        <Group>
          <Button type="submit" loading={saving} disabled={invalid || !touched}>
            Save changes
          </Button>
          {saved && (
            <Text size="sm" c="teal" role="status">
              Saved
            </Text>
          )}
        </Group>
      )}
    </Stack>
  );
}

function EnrollmentSection({ cluster, canAdmin }: { cluster: Cluster; canAdmin: boolean }) {
  const [info, setInfo] = useState<EnrollmentInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const issue = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const reply = await apiSend('POST', `/clusters/${encodeURIComponent(cluster.id)}/enrollment-token`);
      setInfo(checked(EnrollmentInfo, reply, 'the enrollment token'));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack gap="sm" component="section" aria-labelledby="enrollment-title">
      <Title order={3} size="h5" id="enrollment-title">
        Enrollment
      </Title>
      <Text size="sm">
        A new token installs (or reinstalls) the agent. Enrolling with it replaces the agent’s key: the agent that runs
        now stops being accepted once the new one enrolls.
      </Text>
      {canAdmin ? (
        <Group>
          <Button variant="default" onClick={() => void issue()} loading={busy}>
            New enrollment token
          </Button>
        </Group>
      ) : (
        <Text size="sm" c="dimmed">
          Issuing an enrollment token needs the admin role.
        </Text>
      )}
      {error !== null && (
        <Alert color="red" title="No token issued" role="alert">
          {error}
        </Alert>
      )}
      {info !== null && (
        <Stack gap={6} data-testid="enrollment-info">
          <Text size="sm">
            Run this on a machine with <Code>kubectl</Code> access to the cluster. The token is shown only now and works
            once, until {formatTime(info.expiresAt)}.
          </Text>
          <Code block data-testid="install-command" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
            {info.installCommand}
          </Code>
          <Group>
            <CopyButton value={info.installCommand}>
              {({ copied, copy }) => (
                <Button size="xs" variant="light" color={copied ? 'teal' : undefined} onClick={copy}>
                  {copied ? 'Copied' : 'Copy command'}
                </Button>
              )}
            </CopyButton>
          </Group>
        </Stack>
      )}
    </Stack>
  );
}

function DeleteSection({ cluster, canAdmin }: { cluster: Cluster; canAdmin: boolean }) {
  const { navigate } = useRouter();
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const remove = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await apiSend('DELETE', `/clusters/${encodeURIComponent(cluster.id)}`);
      navigate('/');
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };

  return (
    <Stack gap="sm" component="section" aria-labelledby="delete-title">
      <Title order={3} size="h5" id="delete-title" c="red">
        Delete this cluster
      </Title>
      <Text size="sm">
        Removes the cluster from Niro with its inventory, findings and tokens; its agent’s key stops working. Nothing in
        the cluster itself is changed: remove the agent there with <Code>kubectl delete namespace niro-system</Code>.
      </Text>
      {canAdmin ? (
        <Group>
          <Button color="red" variant="outline" onClick={() => setOpen(true)}>
            Delete cluster…
          </Button>
        </Group>
      ) : (
        <Text size="sm" c="dimmed">
          Deleting a cluster needs the admin role.
        </Text>
      )}
      <Modal
        opened={open}
        onClose={() => {
          setOpen(false);
          setTyped('');
          setError(null);
        }}
        title={`Delete ${cluster.name}?`}
      >
        <Stack gap="sm">
          <Text size="sm">
            This cannot be undone. Type <b>{cluster.name}</b> to confirm.
          </Text>
          <TextInput
            label="Cluster name"
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            data-autofocus
            autoComplete="off"
          />
          {error !== null && (
            <Alert color="red" title="Not deleted" role="alert">
              {error}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button color="red" disabled={typed !== cluster.name} loading={busy} onClick={() => void remove()}>
              Delete permanently
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
