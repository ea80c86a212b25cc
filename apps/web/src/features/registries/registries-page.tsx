import { useState, type FormEvent } from 'react';
import {
  Alert,
  Button,
  Group,
  Modal,
  NativeSelect,
  PasswordInput,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { Me, Registry, RegistryList, type Role } from '@niro/protocol';
import { ApiError, apiSend, checked, errorText } from '../../lib/api.js';
import { useApi } from '../../lib/use-api.js';
import { Link, usePageTitle } from '../../lib/router.js';
import { formatTime } from '../../lib/format.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import { DEPLOYMENTS_CSS } from '../deployments/deployment-ui.js';
import { ListTable } from '../../lib/list-table.js';

const RANK: Record<Role, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };
const canWriteIn = (role: Role | undefined): boolean => role === undefined || RANK[role] >= RANK.member;

/**
 * `/registries`: pull credentials for private images. Adding one checks it against the registry
 * first; the password is sent once and never shown again.
 */
export function RegistriesPage() {
  usePageTitle('Registry credentials');
  const list = useApi('/registries', RegistryList);
  const me = useApi('/me', Me);
  const roleOf = (orgId: string): Role | undefined => me.data?.orgs.find((o) => o.id === orgId)?.role;

  return (
    <Stack gap="lg" maw={1000}>
      <style dangerouslySetInnerHTML={{ __html: DEPLOYMENTS_CSS }} />
      <Stack gap={4}>
        <Title order={2} size="h3">
          Registry credentials
        </Title>
        <Text size="sm">
          A deployment pulling a private image picks one of these in the builder: Niro then creates the pull Secret in
          its namespace. Passwords and tokens are stored encrypted and never shown again.{' '}
          <Link href="/deployments" className="niro-text-link">
            Deployments
          </Link>
        </Text>
      </Stack>
      {list.data === null ? (
        list.error === null ? (
          <PageLoading what="Loading registry credentials…" />
        ) : (
          <PageError error={list.error} />
        )
      ) : list.data.items.length === 0 ? (
        <Text c="dimmed" data-testid="registries-empty">
          No registry credential yet. Public images need none; add one below for a private registry (GitHub, Docker Hub,
          your own).
        </Text>
      ) : (
        <ListTable
          minWidth={720}
          striped
          data-testid="registries-table"
          columns={['Name', 'Server', 'Username', 'Last verified', 'Actions']}
        >
          {list.data.items.map((r) => (
            <RegistryRow key={r.id} registry={r} canWrite={canWriteIn(roleOf(r.orgId))} onChanged={list.reload} />
          ))}
        </ListTable>
      )}
      <AddRegistryForm orgs={me.data?.orgs ?? []} onAdded={list.reload} />
    </Stack>
  );
}

function RegistryRow({
  registry: r,
  canWrite,
  onChanged,
}: {
  registry: Registry;
  canWrite: boolean;
  onChanged: () => void;
}) {
  const [working, setWorking] = useState<'verify' | 'delete' | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [confirm, setConfirm] = useState(false);
  const base = `/registries/${encodeURIComponent(r.id)}`;

  const verify = async (): Promise<void> => {
    setWorking('verify');
    setMessage(null);
    try {
      checked(Registry, await apiSend('POST', `${base}/verify`), base);
      setMessage({ ok: true, text: 'The registry accepted the credential.' });
      onChanged();
    } catch (err) {
      setMessage({ ok: false, text: errorText(err) });
    } finally {
      setWorking(null);
    }
  };
  const remove = async (): Promise<void> => {
    setWorking('delete');
    try {
      await apiSend('DELETE', base);
      setConfirm(false);
      onChanged();
    } catch (err) {
      setMessage({ ok: false, text: errorText(err) });
      setConfirm(false);
    } finally {
      setWorking(null);
    }
  };

  return (
    <Table.Tr data-registry={r.name}>
      <Table.Td>{r.name}</Table.Td>
      <Table.Td>{r.server}</Table.Td>
      <Table.Td>{r.username}</Table.Td>
      <Table.Td>
        <Text size="sm">{r.lastVerifiedAt === null ? 'never' : formatTime(r.lastVerifiedAt)}</Text>
        {message !== null && (
          <Text size="xs" c={message.ok ? 'teal' : 'red'} role="status">
            {message.text}
          </Text>
        )}
      </Table.Td>
      <Table.Td>
        <Group gap={4} wrap="nowrap">
          <Button
            size="xs"
            variant="default"
            disabled={!canWrite}
            loading={working === 'verify'}
            onClick={() => void verify()}
            aria-label={`Verify ${r.name}`}
          >
            Verify
          </Button>
          <Button
            size="xs"
            variant="subtle"
            color="red"
            disabled={!canWrite}
            onClick={() => setConfirm(true)}
            aria-label={`Delete ${r.name}`}
          >
            Delete
          </Button>
        </Group>
        <Modal opened={confirm} onClose={() => setConfirm(false)} title={`Delete ${r.name}?`}>
          <Stack gap="sm">
            <Text size="sm">
              Deployments that use it keep their pull Secret until their next apply, which then fails to create it.
              Running pods are not affected.
            </Text>
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setConfirm(false)}>
                Cancel
              </Button>
              <Button color="red" loading={working === 'delete'} onClick={() => void remove()}>
                Delete credential
              </Button>
            </Group>
          </Stack>
        </Modal>
      </Table.Td>
    </Table.Tr>
  );
}

function AddRegistryForm({ orgs, onAdded }: { orgs: Me['orgs']; onAdded: () => void }) {
  const [name, setName] = useState('');
  const [server, setServer] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [orgId, setOrgId] = useState('');
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [added, setAdded] = useState<string | null>(null);
  const writable = orgs.filter((o) => canWriteIn(o.role));
  const chosenOrg = orgId !== '' ? orgId : (writable[0]?.id ?? '');
  const readOnly = orgs.length > 0 && writable.length === 0;
  const ready = name.trim() !== '' && server.trim() !== '' && username.trim() !== '' && password !== '' && !readOnly;

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setSaving(true);
    setError(null);
    setAdded(null);
    try {
      const body = {
        name: name.trim(),
        server: server.trim(),
        username: username.trim(),
        password,
        ...(orgs.length > 1 && chosenOrg !== '' ? { orgId: chosenOrg } : {}),
      };
      const created = checked(Registry, await apiSend('POST', '/registries', body), '/registries');
      setAdded(created.name);
      setName('');
      setServer('');
      setUsername('');
      setPassword('');
      onAdded();
    } catch (err) {
      setError(err instanceof ApiError && err.status > 0 ? `${err.message} (${err.code})` : errorText(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <Stack gap="sm" component="form" onSubmit={(e) => void submit(e)} aria-labelledby="add-registry-title" maw={640}>
      <Title order={3} size="h4" id="add-registry-title">
        Add a registry credential
      </Title>
      {readOnly && (
        <Alert color="blue" title="Read-only">
          Adding a credential needs the member role.
        </Alert>
      )}
      {orgs.length > 1 && (
        <NativeSelect
          label="Organization"
          value={chosenOrg}
          onChange={(e) => setOrgId(e.currentTarget.value)}
          data={writable.map((o) => ({ value: o.id, label: o.name }))}
        />
      )}
      <Group gap="sm" wrap="wrap" align="flex-start">
        <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} w={200} />
        <TextInput
          label="Server"
          description="ghcr.io, docker.io, registry.example.com:5000"
          value={server}
          onChange={(e) => setServer(e.currentTarget.value)}
          w={300}
        />
      </Group>
      <Group gap="sm" wrap="wrap" align="flex-start">
        <TextInput
          label="Username"
          autoComplete="off"
          value={username}
          onChange={(e) => setUsername(e.currentTarget.value)}
          w={200}
        />
        <PasswordInput
          label="Password or token"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          w={300}
        />
      </Group>
      <Text size="xs" c="dimmed">
        Niro logs in to the registry with it before saving; a credential the registry refuses is not stored.
      </Text>
      {error !== null && (
        <Alert color="red" title="Not added" role="alert" data-testid="registry-error">
          {error}
        </Alert>
      )}
      {added !== null && (
        <Text size="sm" c="teal" role="status">
          Added {added}: the registry accepted the credential.
        </Text>
      )}
      <Group>
        <Button type="submit" loading={saving} disabled={!ready}>
          Verify and add
        </Button>
      </Group>
    </Stack>
  );
}
