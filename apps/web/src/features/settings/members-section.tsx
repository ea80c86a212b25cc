import { useState } from 'react';
import { Badge, NativeSelect, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { OrgMemberList, ROLES, type OrgMember, type Role } from '@niro/protocol';
import { apiSend } from '../../lib/api.js';
import { useApi } from '../../lib/use-api.js';
import { ListTable } from '../../lib/list-table.js';
import type { SectionProps } from './settings-page.js';
import {
  ActionAlert,
  DeleteButton,
  InlineForm,
  ListStatus,
  RoleSelect,
  roleAtLeast,
  useAction,
} from './settings-ui.js';

const MEMBER_ERRORS: Record<string, string> = {
  user_not_found:
    'No account has this email address yet. Send them an invitation instead (Invitations); they join when they accept it.',
  last_owner: 'An organization must keep at least one owner. Make someone else an owner first.',
};

const isRole = (v: string): v is Role => ROLES.some((r) => r === v);

/** Direct members of the organization: add an existing user by email, change a role, remove. */
export function MembersSection({ org, me }: SectionProps) {
  const path = `/orgs/${encodeURIComponent(org.id)}/members`;
  const members = useApi(path, OrgMemberList);
  const canManage = roleAtLeast(org.role, 'admin');
  const action = useAction(MEMBER_ERRORS);
  const [done, setDone] = useState<string | null>(null);

  const changeRole = async (m: OrgMember, role: Role): Promise<void> => {
    setDone(null);
    const ok = await action.run(async () => {
      await apiSend('POST', path, { email: m.email, role });
    });
    if (ok) setDone(`${m.email} is now ${role}.`);
    members.reload();
  };

  return (
    <Stack>
      <Title order={3} size="h4">
        Members of {org.name}
      </Title>
      {!canManage && (
        <Text size="sm" c="dimmed">
          You are {org.role} here: admins and owners add and remove members.
        </Text>
      )}
      {canManage && (
        <AddMemberForm
          path={path}
          callerRole={org.role}
          onAdded={(text) => {
            setDone(text);
            members.reload();
          }}
        />
      )}
      <ActionAlert error={action.error} success={done} />
      <ListStatus
        list={members}
        count={members.data?.items.length ?? 0}
        errorTitle="The members could not be loaded"
        loadingText="Loading members…"
      />
      {members.data !== null && (
        <ListTable
          minWidth={600}
          striped
          highlightOnHover
          aria-label="Members"
          data-testid="members-table"
          columns={['Name', 'Email', 'Role', canManage && 'Actions']}
        >
          {members.data.items.map((m) => (
            <Table.Tr key={m.userId} data-member={m.email}>
              <Table.Td>
                {m.name}
                {m.userId === me.id && (
                  <Badge ml="xs" size="xs" variant="light">
                    you
                  </Badge>
                )}
              </Table.Td>
              <Table.Td>{m.email}</Table.Td>
              <Table.Td>
                {canManage ? (
                  <NativeSelect
                    size="xs"
                    aria-label={`Role of ${m.email}`}
                    value={m.role}
                    disabled={action.pending}
                    onChange={(e) => {
                      const role = e.currentTarget.value;
                      if (isRole(role)) void changeRole(m, role);
                    }}
                    data={ROLES.map((r) => ({ value: r, label: r }))}
                  />
                ) : (
                  m.role
                )}
              </Table.Td>
              {canManage && (
                <Table.Td>
                  <DeleteButton
                    label="Remove"
                    ariaLabel={`Remove ${m.email}`}
                    title={`Remove ${m.email}?`}
                    confirmLabel="Remove member"
                    path={`${path}/${encodeURIComponent(m.userId)}`}
                    onSettled={members.reload}
                    onDeleted={() => setDone(`${m.email} was removed from ${org.name}.`)}
                  >
                    They lose access to {org.name} and the organizations below it at once (unless they are a member
                    there too).
                  </DeleteButton>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </ListTable>
      )}
      {members.data?.items.length === 0 && <Text c="dimmed">No direct members.</Text>}
    </Stack>
  );
}

function AddMemberForm({
  path,
  callerRole,
  onAdded,
}: {
  path: string;
  callerRole: Role;
  onAdded: (text: string) => void;
}) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const action = useAction(MEMBER_ERRORS);

  const submit = async (): Promise<void> => {
    const added = email.trim();
    const ok = await action.run(async () => {
      await apiSend('POST', path, { email: added, role });
    });
    if (ok) {
      setEmail('');
      onAdded(`${added} is now ${role}.`);
    }
  };

  return (
    <InlineForm
      label="Add a member"
      submitLabel="Add member"
      pending={action.pending}
      onSubmit={submit}
      alert={<ActionAlert error={action.error} />}
    >
      <TextInput
        label="Email of an existing user"
        type="email"
        required
        value={email}
        onChange={(e) => setEmail(e.currentTarget.value)}
        error={action.error !== null}
        style={{ flex: 1, minWidth: 220 }}
      />
      <RoleSelect value={role} onChange={setRole} callerRole={callerRole} />
    </InlineForm>
  );
}
