import { useState, type FormEvent } from 'react';
import { Alert, Button, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { ApiTokenList, CreatedApiToken } from '@niro/protocol';
import { apiSend, checked } from '../../lib/api.js';
import { formatTime } from '../../lib/format.js';
import { useApi } from '../../lib/use-api.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import type { SectionProps } from './settings-page.js';
import { ActionAlert, ConfirmButton, CopyBlock, formatRelative, useAction } from './settings-ui.js';

const EXPIRY_CHOICES = [
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
  { value: '365', label: '1 year' },
  { value: '', label: 'Never' },
];

/** The user's own API tokens (scripts, the CLI): create one (its secret shown once), see use, revoke. */
export function TokensSection(_props: SectionProps) {
  const list = useApi('/tokens', ApiTokenList);
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [created, setCreated] = useState<CreatedApiToken | null>(null);
  const create = useAction();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setCreated(null);
    await create.run(async () => {
      const body = days === '' ? { name: name.trim() } : { name: name.trim(), expiresInDays: Number(days) };
      setCreated(checked(CreatedApiToken, await apiSend('POST', '/tokens', body), 'the new token'));
      setName('');
    });
    list.reload();
  };

  return (
    <Stack>
      <Title order={3} size="h4">
        API tokens
      </Title>
      <Text size="sm" c="dimmed">
        A token acts as you (with your roles) for scripts and the niro command: send it as{' '}
        <code>authorization: Bearer …</code>.
      </Text>
      <form onSubmit={(e) => void submit(e)} aria-label="Create an API token">
        <Group align="flex-end" gap="xs" wrap="wrap">
          <TextInput
            label="Token name"
            placeholder="ci-deploy"
            required
            maxLength={100}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            style={{ flex: 1, minWidth: 200 }}
          />
          <NativeSelect
            label="Expires after"
            value={days}
            onChange={(e) => setDays(e.currentTarget.value)}
            data={EXPIRY_CHOICES}
          />
          <Button type="submit" loading={create.pending}>
            Create token
          </Button>
        </Group>
      </form>
      <ActionAlert error={create.error} />
      {created !== null && (
        <Alert color="yellow" title={`Token "${created.apiToken.name}" created`} data-testid="token-created">
          <Stack gap="xs">
            <Text size="sm">
              Copy it now: it is not shown again. Whoever holds it can act as you until it is revoked.
            </Text>
            <CopyBlock value={created.token} label="API token" testId="token-secret" />
          </Stack>
        </Alert>
      )}
      {list.error !== null && <PageError error={list.error} title="The tokens could not be loaded" />}
      {list.data === null && list.error === null && <PageLoading what="Loading tokens…" />}
      {list.data !== null && list.data.items.length === 0 && <Text c="dimmed">No API tokens — create one above.</Text>}
      {list.data !== null && list.data.items.length > 0 && (
        <Table.ScrollContainer minWidth={640}>
          <Table striped aria-label="API tokens" data-testid="tokens-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.items.map((t) => (
                <Table.Tr key={t.id} data-token={t.name}>
                  <Table.Td>{t.name}</Table.Td>
                  <Table.Td>{formatTime(t.createdAt)}</Table.Td>
                  <Table.Td title={formatTime(t.lastUsedAt)}>
                    {t.lastUsedAt === null ? 'never' : formatRelative(t.lastUsedAt)}
                  </Table.Td>
                  <Table.Td title={formatTime(t.expiresAt)}>
                    {t.expiresAt === null ? 'never' : formatRelative(t.expiresAt)}
                  </Table.Td>
                  <Table.Td>
                    <ConfirmButton
                      label="Revoke"
                      ariaLabel={`Revoke token ${t.name}`}
                      title={`Revoke token "${t.name}"?`}
                      confirmLabel="Revoke token"
                      onConfirm={async () => {
                        await apiSend('DELETE', `/tokens/${encodeURIComponent(t.id)}`).finally(list.reload);
                      }}
                    >
                      It stops working at once; scripts using it get 401.
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
