import { useState } from 'react';
import { Badge, NativeSelect, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { CreatedInvitation, InvitationList, type Role } from '@niro/protocol';
import { apiSend, checked } from '../../lib/api.js';
import { formatTime } from '../../lib/format.js';
import { useApi } from '../../lib/use-api.js';
import { ListTable } from '../../lib/list-table.js';
import type { SectionProps } from './settings-page.js';
import {
  ActionAlert,
  CreatedAlert,
  DeleteButton,
  InlineForm,
  ListStatus,
  RoleSelect,
  formatRelative,
  formatWhen,
  roleAtLeast,
  useAction,
} from './settings-ui.js';

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

  const submit = async (): Promise<void> => {
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
      <InlineForm
        label="Invite someone"
        submitLabel="Create invitation link"
        pending={create.pending}
        onSubmit={submit}
      >
        <TextInput
          label="Email"
          type="email"
          required
          value={email}
          onChange={(e) => setEmail(e.currentTarget.value)}
          style={{ flex: 1, minWidth: 220 }}
        />
        <RoleSelect value={role} onChange={setRole} callerRole={org.role} />
        <NativeSelect
          label="Link valid for"
          value={hours}
          onChange={(e) => setHours(e.currentTarget.value)}
          data={EXPIRY_CHOICES}
        />
      </InlineForm>
      <ActionAlert error={create.error} />
      {created !== null && (
        <CreatedAlert
          color="green"
          title="Invitation link created"
          testId="invitation-created"
          secret={{ value: created.url, label: 'invitation link', testId: 'invitation-url' }}
        >
          Send this link to <strong>{created.invitation.email}</strong>; it expires{' '}
          {formatWhen(created.invitation.expiresAt)}. It is shown only now.
        </CreatedAlert>
      )}

      <Title order={4} size="h5">
        Open invitations
      </Title>
      <ListStatus
        list={list}
        count={list.data?.items.length ?? 0}
        errorTitle="The invitations could not be loaded"
        loadingText="Loading invitations…"
        emptyText="No open invitations — invite someone above."
      />
      {list.data !== null && list.data.items.length > 0 && (
        <ListTable
          minWidth={640}
          striped
          aria-label="Invitations"
          columns={['Email', 'Role', 'Invited', 'Expires', 'Actions']}
        >
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
                <DeleteButton
                  label="Revoke"
                  ariaLabel={`Revoke the invitation of ${inv.email}`}
                  title={`Revoke the invitation of ${inv.email}?`}
                  confirmLabel="Revoke invitation"
                  path={`${path}/${encodeURIComponent(inv.id)}`}
                  onSettled={list.reload}
                >
                  The link stops working at once.
                </DeleteButton>
              </Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      )}
    </Stack>
  );
}
