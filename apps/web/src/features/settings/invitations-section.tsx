import { useState, type FormEvent } from 'react';
import { Alert, Badge, Button, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { CreatedInvitation, InvitationList, ROLES, type Role } from '@niro/protocol';
import { apiSend, checked } from '../../lib/api.js';
import { formatTime } from '../../lib/format.js';
import { useApi } from '../../lib/use-api.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import type { SectionProps } from './settings-page.js';
import {
  ActionAlert,
  ConfirmButton,
  CopyBlock,
  formatRelative,
  formatWhen,
  roleAtLeast,
  useAction,
} from './settings-ui.js';

const isRole = (v: string): v is Role => ROLES.some((r) => r === v);

const EXPIRY_CHOICES = [
  { value: '24', label: '1 day' },
  { value: '72', label: '3 days' },
  { value: '168', label: '7 days' },
  { value: '720', label: '30 days' },
];

/** Invitations by link: create one for an email and role, see the open ones, revoke. */
export function InvitationsSection({ org }: SectionProps) {
  const path = `/orgs/${encodeURIComponent(org.id)}/invitations`;
  const canManage = roleAtLeast(org.role, 'admin');
  const list = useApi(canManage ? path : null, InvitationList);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const [hours, setHours] = useState('168');
  const [created, setCreated] = useState<CreatedInvitation | null>(null);
  const create = useAction();

  if (!canManage) {
    return (
      <Stack>
        <Title order={3} size="h4">
          Invitations
        </Title>
        <Text>
          You are {org.role} in {org.name}: admins and owners invite people.
        </Text>
      </Stack>
    );
  }

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setCreated(null);
    await create.run(async () => {
      const reply = await apiSend('POST', path, { email: email.trim(), role, expiresInHours: Number(hours) });
      setCreated(checked(CreatedInvitation, reply, 'the new invitation'));
      setEmail('');
    });
    list.reload();
  };

  return (
    <Stack>
      <Title order={3} size="h4">
        Invite to {org.name}
      </Title>
      <form onSubmit={(e) => void submit(e)} aria-label="Invite someone">
        <Group align="flex-end" gap="xs" wrap="wrap">
          <TextInput
            label="Email"
            type="email"
            required
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
            style={{ flex: 1, minWidth: 220 }}
          />
          <NativeSelect
            label="Role"
            value={role}
            onChange={(e) => {
              const v = e.currentTarget.value;
              if (isRole(v)) setRole(v);
            }}
            data={ROLES.filter((r) => r !== 'owner' || org.role === 'owner').map((r) => ({ value: r, label: r }))}
          />
          <NativeSelect
            label="Link valid for"
            value={hours}
            onChange={(e) => setHours(e.currentTarget.value)}
            data={EXPIRY_CHOICES}
          />
          <Button type="submit" loading={create.pending}>
            Create invitation link
          </Button>
        </Group>
      </form>
      <ActionAlert error={create.error} />
      {created !== null && (
        <Alert color="green" title="Invitation link created" data-testid="invitation-created">
          <Stack gap="xs">
            <Text size="sm">
              Send this link to <strong>{created.invitation.email}</strong>; it expires{' '}
              {formatWhen(created.invitation.expiresAt)}. It is shown only now.
            </Text>
            <CopyBlock value={created.url} label="invitation link" testId="invitation-url" />
          </Stack>
        </Alert>
      )}

      <Title order={4} size="h5">
        Open invitations
      </Title>
      {list.error !== null && <PageError error={list.error} title="The invitations could not be loaded" />}
      {list.data === null && list.error === null && <PageLoading what="Loading invitations…" />}
      {list.data !== null && list.data.items.length === 0 && (
        <Text c="dimmed">No open invitations — invite someone above.</Text>
      )}
      {list.data !== null && list.data.items.length > 0 && (
        <Table.ScrollContainer minWidth={640}>
          <Table striped aria-label="Invitations">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Email</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th>Invited</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.items.map((inv) => (
                <Table.Tr key={inv.id} data-invitation={inv.email}>
                  <Table.Td>{inv.email}</Table.Td>
                  <Table.Td>{inv.role}</Table.Td>
                  <Table.Td>
                    {formatTime(inv.createdAt)}
                    {inv.createdBy !== null && ` by ${inv.createdBy}`}
                  </Table.Td>
                  <Table.Td>
                    {inv.expired ? (
                      <Badge color="gray" variant="light">
                        expired
                      </Badge>
                    ) : (
                      <span title={formatTime(inv.expiresAt)}>{formatRelative(inv.expiresAt)}</span>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <ConfirmButton
                      label="Revoke"
                      ariaLabel={`Revoke the invitation of ${inv.email}`}
                      title={`Revoke the invitation of ${inv.email}?`}
                      confirmLabel="Revoke invitation"
                      onConfirm={async () => {
                        await apiSend('DELETE', `${path}/${encodeURIComponent(inv.id)}`).finally(list.reload);
                      }}
                    >
                      The link stops working at once.
                    </ConfirmButton>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}
