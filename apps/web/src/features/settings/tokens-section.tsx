import { useState } from 'react';
import { NativeSelect, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { ApiTokenList, CreatedApiToken } from '@niro/protocol';
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
  formatRelative,
  useAction,
} from './settings-ui.js';

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

  const submit = async (): Promise<void> => {
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
      <InlineForm label="Create an API token" submitLabel="Create token" pending={create.pending} onSubmit={submit}>
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
      </InlineForm>
      <ActionAlert error={create.error} />
      {created !== null && (
        <CreatedAlert
          color="yellow"
          title={`Token "${created.apiToken.name}" created`}
          testId="token-created"
          secret={{ value: created.token, label: 'API token', testId: 'token-secret' }}
        >
          Copy it now: it is not shown again. Whoever holds it can act as you until it is revoked.
        </CreatedAlert>
      )}
      <ListStatus
        list={list}
        count={list.data?.items.length ?? 0}
        errorTitle="The tokens could not be loaded"
        loadingText="Loading tokens…"
        emptyText="No API tokens — create one above."
      />
      {list.data !== null && list.data.items.length > 0 && (
        <ListTable
          minWidth={640}
          striped
          aria-label="API tokens"
          data-testid="tokens-table"
          columns={['Name', 'Created', 'Last used', 'Expires', 'Actions']}
        >
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
                <DeleteButton
                  label="Revoke"
                  ariaLabel={`Revoke token ${t.name}`}
                  title={`Revoke token "${t.name}"?`}
                  confirmLabel="Revoke token"
                  path={`/tokens/${encodeURIComponent(t.id)}`}
                  onSettled={list.reload}
                >
                  It stops working at once; scripts using it get 401.
                </DeleteButton>
              </Table.Td>
            </Table.Tr>
          ))}
        </ListTable>
      )}
    </Stack>
  );
}
