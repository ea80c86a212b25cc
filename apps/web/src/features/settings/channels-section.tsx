import { useState } from 'react';
import { Alert, Badge, Button, Group, Stack, Table, Text, Title } from '@mantine/core';
import {
  NotificationChannelList,
  NotificationTestResult,
  type CreatedNotificationChannel,
  type NotificationChannel,
} from '@niro/protocol';
import { apiSend, checked } from '../../lib/api.js';
import { formatTime } from '../../lib/format.js';
import { useApi } from '../../lib/use-api.js';
import { ListTable } from '../../lib/list-table.js';
import { ChannelForm } from './channel-form.js';
import type { SectionProps } from './settings-page.js';
import {
  ActionAlert,
  CreatedAlert,
  DeleteButton,
  ListStatus,
  formatRelative,
  roleAtLeast,
  useAction,
} from './settings-ui.js';

const TYPE_LABEL: Record<NotificationChannel['type'], string> = {
  webhook: 'Webhook',
  slack: 'Slack',
  discord: 'Discord',
  pagerduty: 'PagerDuty',
  email: 'Email',
};

type TestOutcome = { channel: string; delivered: boolean; error: string | null };

/** Where incidents notify: the organization's channels with their delivery status; admins create, edit, test, delete. */
export function ChannelsSection({ org }: SectionProps) {
  const list = useApi('/notification-channels', NotificationChannelList, 15_000);
  const canManage = roleAtLeast(org.role, 'admin');
  const [editing, setEditing] = useState<NotificationChannel | 'new' | null>(null);
  const [created, setCreated] = useState<CreatedNotificationChannel | null>(null);
  const [tested, setTested] = useState<TestOutcome | null>(null);
  const [testing, setTesting] = useState<string | null>(null);
  const test = useAction();
  const channels = list.data?.items.filter((c) => c.orgId === org.id) ?? [];

  const sendTest = async (c: NotificationChannel): Promise<void> => {
    setTested(null);
    setTesting(c.id);
    await test.run(async () => {
      const reply = await apiSend('POST', `/notification-channels/${encodeURIComponent(c.id)}/test`);
      const result = checked(NotificationTestResult, reply, 'the test');
      setTested({ channel: c.name, delivered: result.delivered, error: result.error ?? null });
    });
    setTesting(null);
    list.reload();
  };

  return (
    <Stack>
      <Group justify="space-between" wrap="wrap">
        <Title order={3} size="h4">
          Notification channels of {org.name}
        </Title>
        {canManage && (
          <Button
            onClick={() => {
              setCreated(null);
              setEditing('new');
            }}
          >
            Add channel
          </Button>
        )}
      </Group>
      <Text size="sm" c="dimmed">
        Incidents of the minimum severity or above notify every matching channel when they open and when they resolve.
        Channels of a parent organization also hear about this one&apos;s incidents.
      </Text>
      {!canManage && (
        <Text size="sm" c="dimmed">
          You are {org.role} here: admins create, change and test channels.
        </Text>
      )}
      {created !== null && (
        <CreatedAlert
          color="green"
          title={`Channel "${created.name}" created`}
          testId="channel-created"
          secret={
            created.signingSecret === undefined
              ? undefined
              : { value: created.signingSecret, label: 'signing secret', testId: 'signing-secret' }
          }
        >
          {created.signingSecret !== undefined
            ? 'The receiver verifies the webhook-signature header with this signing secret. Copy it now: it is not shown again.'
            : 'Send a test to check that it arrives.'}
        </CreatedAlert>
      )}
      {tested !== null && (
        <Alert
          color={tested.delivered ? 'green' : 'red'}
          role="status"
          title={`Test notification to "${tested.channel}"`}
          data-testid="test-result"
        >
          {tested.delivered
            ? 'Delivered: the receiver answered with success.'
            : `Not delivered: ${tested.error ?? 'no reason given'}`}
        </Alert>
      )}
      <ActionAlert error={test.error} />
      <ListStatus
        list={list}
        count={channels.length}
        errorTitle="The channels could not be loaded"
        loadingText="Loading channels…"
        emptyText={`No notification channels — incidents show on the dashboard only${canManage ? '; add a channel above' : ''}.`}
      />
      {channels.length > 0 && (
        <ListTable
          minWidth={820}
          striped
          aria-label="Notification channels"
          data-testid="channels-table"
          columns={['Name', 'Type', 'Sends to', 'Severity', 'Clusters', 'Delivery', canManage && 'Actions']}
        >
          {channels.map((c) => (
            <Table.Tr key={c.id} data-channel={c.name}>
              <Table.Td>{c.name}</Table.Td>
              <Table.Td>{TYPE_LABEL[c.type]}</Table.Td>
              <Table.Td>{describeConfig(c)}</Table.Td>
              <Table.Td>{c.minSeverity} and above</Table.Td>
              <Table.Td>{describeFilters(c)}</Table.Td>
              <Table.Td>
                <DeliveryStatus channel={c} />
              </Table.Td>
              {canManage && (
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <Button
                      size="xs"
                      variant="default"
                      loading={testing === c.id}
                      onClick={() => void sendTest(c)}
                      aria-label={`Send a test to ${c.name}`}
                    >
                      Send test
                    </Button>
                    <Button
                      size="xs"
                      variant="subtle"
                      onClick={() => {
                        setCreated(null);
                        setEditing(c);
                      }}
                      aria-label={`Edit ${c.name}`}
                    >
                      Edit
                    </Button>
                    <DeleteButton
                      label="Delete"
                      ariaLabel={`Delete ${c.name}`}
                      title={`Delete channel "${c.name}"?`}
                      confirmLabel="Delete channel"
                      path={`/notification-channels/${encodeURIComponent(c.id)}`}
                      onSettled={list.reload}
                    >
                      Notifications waiting for it are dropped too.
                    </DeleteButton>
                  </Group>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </ListTable>
      )}
      {editing !== null && (
        <ChannelForm
          orgId={org.id}
          channel={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(saved) => {
            setEditing(null);
            if (saved !== null) setCreated(saved);
            list.reload();
          }}
        />
      )}
    </Stack>
  );
}

function DeliveryStatus({ channel }: { channel: NotificationChannel }) {
  const s = channel.status;
  return (
    <Stack gap={2}>
      <Group gap={4}>
        <Badge color={s.healthy ? 'green' : 'red'} variant="light">
          {s.healthy ? 'healthy' : 'failing'}
        </Badge>
        {s.pending > 0 && (
          <Badge color="yellow" variant="light">
            {s.pending} pending
          </Badge>
        )}
        {s.failed > 0 && (
          <Badge color="red" variant="outline">
            {s.failed} given up
          </Badge>
        )}
      </Group>
      {s.lastError !== null && (
        <Text size="xs" c="red" title={formatTime(s.lastErrorAt)}>
          {s.lastError}
        </Text>
      )}
      <Text size="xs" c="dimmed" title={formatTime(s.lastDeliveredAt)}>
        {s.lastDeliveredAt === null ? 'nothing delivered yet' : `delivered ${formatRelative(s.lastDeliveredAt)}`}
        {s.nextAttemptAt !== null && ` · retry ${formatRelative(s.nextAttemptAt)}`}
      </Text>
    </Stack>
  );
}

function describeConfig(c: NotificationChannel): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(c.config)) parts.push(`${k}: ${Array.isArray(v) ? v.join(', ') : v}`);
  return parts.join('; ') || '–';
}

function describeFilters(c: NotificationChannel): string {
  const parts: string[] = [];
  if (c.filters.environments.length > 0) parts.push(c.filters.environments.join(', '));
  const labels = Object.entries(c.filters.labels);
  if (labels.length > 0) parts.push(labels.map(([k, v]) => `${k}=${v}`).join(', '));
  return parts.length === 0 ? 'all' : parts.join('; ');
}
