import { useState, type FormEvent } from 'react';
import {
  Button,
  Checkbox,
  Group,
  Modal,
  NativeSelect,
  PasswordInput,
  Stack,
  Text,
  TextInput,
  Textarea,
} from '@mantine/core';
import {
  CreatedNotificationChannel,
  ENVIRONMENTS,
  NOTIFICATION_CHANNEL_TYPES,
  NotificationChannel,
  type Environment,
  type NotificationChannelConfig,
  type NotificationChannelType,
  type NotificationSeverity,
} from '@niro/protocol';
import { apiSend, checked } from '../../lib/api.js';
import { ActionAlert, LabelRows, labelsFromRows, useAction, type LabelRow } from './settings-ui.js';

const SEVERITIES: readonly NotificationSeverity[] = ['info', 'low', 'medium', 'high'];
const isSeverity = (v: string): v is NotificationSeverity => SEVERITIES.some((s) => s === v);
const isType = (v: string): v is NotificationChannelType => NOTIFICATION_CHANNEL_TYPES.some((t) => t === v);
const isEnvironment = (v: string): v is Environment => ENVIRONMENTS.some((e) => e === v);

const CONFIG_HELP: Record<NotificationChannelType, string> = {
  webhook: 'Niro POSTs a signed JSON event (Standard Webhooks) to this URL.',
  slack: 'An incoming webhook URL of a Slack app (https://hooks.slack.com/services/…).',
  discord: 'A channel webhook URL from Discord (https://discord.com/api/webhooks/…).',
  pagerduty: 'The integration (routing) key of an Events API v2 integration on a PagerDuty service.',
  email: 'One address per line. Needs NIRO_SMTP_URL on the server.',
};

/**
 * Creating a channel (every field) or changing one: its config is write-only, so an existing
 * channel shows what is set (the redacted form) and the secret fields stay empty unless replaced.
 */
export function ChannelForm({
  orgId,
  channel,
  onClose,
  onSaved,
}: {
  orgId: string;
  channel: NotificationChannel | null;
  onClose: () => void;
  /** The created channel (with a webhook's signing secret), or null after a change. */
  onSaved: (created: CreatedNotificationChannel | null) => void;
}) {
  const creating = channel === null;
  const [name, setName] = useState(channel?.name ?? '');
  const [type, setType] = useState<NotificationChannelType>(channel?.type ?? 'webhook');
  const [minSeverity, setMinSeverity] = useState<NotificationSeverity>(channel?.minSeverity ?? 'medium');
  const [environments, setEnvironments] = useState<Environment[]>(channel?.filters.environments ?? []);
  const [labels, setLabels] = useState<LabelRow[]>(
    Object.entries(channel?.filters.labels ?? {}).map(([key, value]) => ({ key, value })),
  );
  const [replacing, setReplacing] = useState(creating);
  const [url, setUrl] = useState('');
  const [routingKey, setRoutingKey] = useState('');
  const initialTo = channel?.config.to;
  const [to, setTo] = useState(Array.isArray(initialTo) ? initialTo.join('\n') : '');
  const save = useAction();
  const [problem, setProblem] = useState<string | null>(null);

  const config = (): NotificationChannelConfig => {
    if (type === 'pagerduty') return { routingKey: routingKey.trim() };
    if (type === 'email') {
      return {
        to: to
          .split(/[\s,;]+/)
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      };
    }
    return { url: url.trim() };
  };

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const parsed = labelsFromRows(labels);
    if ('error' in parsed) {
      setProblem(parsed.error);
      return;
    }
    setProblem(null);
    const filters = { environments, labels: parsed.labels };
    const sendConfig = replacing || (type === 'email' && to !== (Array.isArray(initialTo) ? initialTo.join('\n') : ''));
    await save.run(async () => {
      if (channel === null) {
        const reply = await apiSend('POST', '/notification-channels', {
          name: name.trim(),
          type,
          orgId,
          minSeverity,
          filters,
          config: config(),
        });
        onSaved(checked(CreatedNotificationChannel, reply, 'the new channel'));
      } else {
        const body = { name: name.trim(), minSeverity, filters, ...(sendConfig ? { config: config() } : {}) };
        const reply = await apiSend('PATCH', `/notification-channels/${encodeURIComponent(channel.id)}`, body);
        checked(NotificationChannel, reply, 'the changed channel');
        onSaved(null);
      }
    });
  };

  const current = channel === null ? '' : Object.values(channel.config).flat().join(', ');
  const secretField =
    type === 'pagerduty' ? (
      <PasswordInput
        label="Routing key"
        required={replacing}
        value={routingKey}
        onChange={(e) => setRoutingKey(e.currentTarget.value)}
        description={CONFIG_HELP.pagerduty}
        autoComplete="off"
      />
    ) : type === 'webhook' ? (
      <TextInput
        label="URL"
        type="url"
        required={replacing}
        placeholder="https://hooks.example.com/niro"
        value={url}
        onChange={(e) => setUrl(e.currentTarget.value)}
        description={CONFIG_HELP.webhook}
        autoComplete="off"
      />
    ) : (
      <PasswordInput
        label="Webhook URL"
        required={replacing}
        value={url}
        onChange={(e) => setUrl(e.currentTarget.value)}
        description={CONFIG_HELP[type]}
        autoComplete="off"
      />
    );

  return (
    <Modal
      opened
      onClose={onClose}
      title={creating ? 'Add a notification channel' : `Edit "${channel.name}"`}
      size="lg"
    >
      <form onSubmit={(e) => void submit(e)} aria-label={creating ? 'New channel' : `Edit ${channel.name}`}>
        <Stack gap="sm">
          <TextInput
            label="Name"
            required
            maxLength={100}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            data-autofocus
          />
          <Group grow align="flex-start">
            <NativeSelect
              label="Type"
              value={type}
              disabled={!creating}
              onChange={(e) => {
                const v = e.currentTarget.value;
                if (isType(v)) setType(v);
              }}
              data={NOTIFICATION_CHANNEL_TYPES.map((t) => ({ value: t, label: t }))}
            />
            <NativeSelect
              label="Minimum severity"
              value={minSeverity}
              onChange={(e) => {
                const v = e.currentTarget.value;
                if (isSeverity(v)) setMinSeverity(v);
              }}
              data={SEVERITIES.map((s) => ({ value: s, label: `${s} and above` }))}
            />
          </Group>

          {type === 'email' ? (
            <Textarea
              label="Recipients"
              required
              autosize
              minRows={2}
              value={to}
              onChange={(e) => setTo(e.currentTarget.value)}
              description={CONFIG_HELP.email}
            />
          ) : replacing ? (
            <Stack gap={4}>
              {secretField}
              {!creating && (
                <Group>
                  <Button size="compact-xs" variant="subtle" onClick={() => setReplacing(false)}>
                    Keep the current one
                  </Button>
                </Group>
              )}
            </Stack>
          ) : (
            <Group gap="xs" wrap="wrap">
              <Text size="sm">
                {type === 'pagerduty' ? 'Routing key' : 'URL'}: set ({current}). It is never shown in full.
              </Text>
              <Button size="compact-xs" variant="default" onClick={() => setReplacing(true)}>
                Replace
              </Button>
            </Group>
          )}

          <Checkbox.Group
            label="Only clusters of these environments (none ticked: all)"
            value={environments}
            onChange={(v) => setEnvironments(v.filter(isEnvironment))}
          >
            <Group gap="md" mt={4}>
              {ENVIRONMENTS.map((env) => (
                <Checkbox key={env} value={env} label={env} />
              ))}
            </Group>
          </Checkbox.Group>
          <LabelRows legend="Only clusters with these labels" rows={labels} onChange={setLabels} />

          <ActionAlert error={problem ?? save.error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.pending}>
              {creating ? 'Create channel' : 'Save changes'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
