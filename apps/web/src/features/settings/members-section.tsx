import { useState, type FormEvent } from 'react';
import { Badge, Button, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { OrgMemberList, ROLES, type OrgMember, type Role } from '@niro/protocol';
import { apiSend } from '../../lib/api.js';
import { useApi } from '../../lib/use-api.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import type { SectionProps } from './settings-page.js';
import { ActionAlert, ConfirmButton, roleAtLeast, useAction } from './settings-ui.js';

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
      {members.error !== null && <PageError error={members.error} title="The members could not be loaded" />}
      {members.data === null && members.error === null && <PageLoading what="Loading members…" />}
      {members.data !== null && (
        <Table.ScrollContainer minWidth={600}>
          <Table striped highlightOnHover aria-label="Members" data-testid="members-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Email</Table.Th>
                <Table.Th>Role</Table.Th>
                {canManage && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
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
                      <ConfirmButton
                        label="Remove"
                        ariaLabel={`Remove ${m.email}`}
                        title={`Remove ${m.email}?`}
                        confirmLabel="Remove member"
                        onConfirm={async () => {
                          await apiSend('DELETE', `${path}/${encodeURIComponent(m.userId)}`).finally(members.reload);
                          setDone(`${m.email} was removed from ${org.name}.`);
                        }}
                      >
                        They lose access to {org.name} and the organizations below it at once (unless they are a member
                        there too).
                      </ConfirmButton>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
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
  const roles = ROLES.filter((r) => r !== 'owner' || callerRole === 'owner');

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
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
    <form onSubmit={(e) => void submit(e)} aria-label="Add a member">
      <Stack gap="xs">
        <Group align="flex-end" gap="xs" wrap="wrap">
          <TextInput
            label="Email of an existing user"
            type="email"
            required
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
            error={action.error !== null}
            style={{ flex: 1, minWidth: 220 }}
          />
          <NativeSelect
            label="Role"
            value={role}
            onChange={(e) => {
              const v = e.currentTarget.value;
              if (isRole(v)) setRole(v);
            }}
            data={roles.map((r) => ({ value: r, label: r }))}
          />
          <Button type="submit" loading={action.pending}>
            Add member
          </Button>
        </Group>
        <ActionAlert error={action.error} />
      </Stack>
    </form>
  );
}
