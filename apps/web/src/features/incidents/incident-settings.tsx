import { Alert, Button, Drawer, Group, NativeSelect, NumberInput, Stack, Text } from '@mantine/core';
import { IncidentSettings, Me } from '@niro/protocol';
import { useEffect, useState } from 'react';
import { apiSend, checked, errorText } from '../../lib/api.js';
import { useApi } from '../../lib/use-api.js';
import { PageError, PageLoading } from '../shell/page-states.js';

const FIELDS: { key: keyof IncidentSettings; label: string; description: string; min: number; max: number }[] = [
  {
    key: 'crashLoopRestarts',
    label: 'Crash-loop restarts',
    description: 'Restarts within the window that make a pod crash-looping',
    min: 1,
    max: 1000,
  },
  { key: 'crashLoopWindowMinutes', label: 'Crash-loop window (minutes)', description: '', min: 1, max: 1440 },
  {
    key: 'oomWindowMinutes',
    label: 'OOM window (minutes)',
    description: 'How long an OOM kill keeps its incident firing',
    min: 1,
    max: 1440,
  },
  {
    key: 'resolveAfterHeartbeats',
    label: 'Resolve after heartbeats',
    description: 'Heartbeats without the condition before an incident resolves',
    min: 1,
    max: 20,
  },
];

/** A "Detection settings" button and its drawer: an organization's incident thresholds (admins change them). */
export function IncidentSettingsButton() {
  const [opened, setOpened] = useState(false);
  return (
    <>
      <Button variant="default" size="xs" onClick={() => setOpened(true)}>
        Detection settings
      </Button>
      <Drawer opened={opened} onClose={() => setOpened(false)} position="right" title="Incident detection settings">
        {opened && <SettingsForm />}
      </Drawer>
    </>
  );
}

function SettingsForm() {
  const me = useApi('/me', Me);
  const [orgId, setOrgId] = useState<string | null>(null);
  const orgs = me.data?.orgs ?? [];
  const current = orgId ?? orgs[0]?.id ?? null;
  const role = orgs.find((o) => o.id === current)?.role;
  const settings = useApi(
    current === null ? null : `/orgs/${encodeURIComponent(current)}/incident-settings`,
    IncidentSettings,
  );
  const [draft, setDraft] = useState<IncidentSettings | null>(null);
  const [saving, setSaving] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);

  useEffect(() => {
    setDraft(settings.data);
  }, [settings.data]);

  if (me.data === null) return me.loading ? <PageLoading /> : <PageError error={me.error ?? ''} />;
  if (orgs.length === 0) return <Text c="dimmed">You are not a member of any organization.</Text>;

  const save = async (): Promise<void> => {
    if (draft === null || current === null) return;
    setSaving(true);
    setResult(null);
    try {
      const reply = await apiSend('PUT', `/orgs/${encodeURIComponent(current)}/incident-settings`, draft);
      setDraft(checked(IncidentSettings, reply, 'incident-settings'));
      setResult({ ok: true, text: 'Saved. New thresholds apply from the next heartbeats.' });
    } catch (err) {
      setResult({ ok: false, text: errorText(err) });
    } finally {
      setSaving(false);
    }
  };

  const canEdit = role === 'owner' || role === 'admin';
  return (
    <Stack>
      {orgs.length > 1 && (
        <NativeSelect
          label="Organization"
          value={current ?? ''}
          onChange={(e) => {
            setOrgId(e.currentTarget.value);
            setResult(null);
          }}
          data={orgs.map((o) => ({ value: o.id, label: o.name }))}
        />
      )}
      {draft === null ? (
        settings.loading ? (
          <PageLoading />
        ) : (
          <PageError error={settings.error ?? ''} />
        )
      ) : (
        <>
          {FIELDS.map((f) => (
            <NumberInput
              key={f.key}
              label={f.label}
              description={f.description === '' ? undefined : f.description}
              min={f.min}
              max={f.max}
              allowDecimal={false}
              readOnly={!canEdit}
              value={draft[f.key]}
              onChange={(v) => {
                if (typeof v === 'number') setDraft({ ...draft, [f.key]: v });
              }}
            />
          ))}
          {!canEdit && (
            <Text size="sm" c="dimmed">
              Admins of the organization change these.
            </Text>
          )}
          {result !== null && (
            <Alert color={result.ok ? 'green' : 'red'} role={result.ok ? 'status' : 'alert'}>
              {result.text}
            </Alert>
          )}
          {canEdit && (
            <Group justify="flex-end">
              <Button onClick={() => void save()} loading={saving}>
                Save
              </Button>
            </Group>
          )}
        </>
      )}
    </Stack>
  );
}
