import { useCallback, useRef, useState, type FormEvent, type ReactNode } from 'react';
import {
  ActionIcon,
  Alert,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  NativeSelect,
  Stack,
  Text,
  Tooltip,
} from '@mantine/core';
import { ROLES, type Role } from '@niro/protocol';
import { ApiError, apiSend, errorText } from '../../lib/api.js';
import { formatTime } from '../../lib/format.js';
import { PageError, PageLoading } from '../shell/page-states.js';

const RANK: Record<Role, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };

/** Whether `role` is `min` or higher (the server's rule; the server decides, this only hides controls). */
export const roleAtLeast = (role: Role, min: Role): boolean => RANK[role] >= RANK[min];

/**
 * An error of an action in the server's words, or our sentence for a code that needs more than
 * the server's words (what to do next).
 */
export function actionMessage(err: unknown, byCode: Record<string, string> = {}): string {
  if (err instanceof ApiError) return byCode[err.code] ?? err.message;
  return errorText(err);
}

/** "in 23 h", "5 min ago": a time relative to `now`. */
export function formatRelative(iso: string | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return '–';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const ms = t - now;
  const s = Math.round(Math.abs(ms) / 1000);
  const span =
    s < 60
      ? `${s} s`
      : s < 3600
        ? `${Math.round(s / 60)} min`
        : s < 172_800
          ? `${Math.round(s / 3600)} h`
          : `${Math.round(s / 86_400)} days`;
  return ms >= 0 ? `in ${span}` : `${span} ago`;
}

/** An absolute time with the relative one after it: "12/03/2026, 14:00:00 (in 24 h)". */
export function formatWhen(iso: string | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return '–';
  return `${formatTime(iso)} (${formatRelative(iso, now)})`;
}

/** A secret or command shown in a code block with a copy button that says "Copied". */
export function CopyBlock({ value, label, testId }: { value: string; label: string; testId?: string }) {
  return (
    <Group gap="xs" align="flex-start" wrap="nowrap">
      <Code block data-testid={testId} style={{ flex: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
        {value}
      </Code>
      <CopyButton value={value} timeout={2000}>
        {({ copied, copy }) => (
          <Tooltip label={copied ? 'Copied' : 'Copy'} withArrow>
            <Button
              variant={copied ? 'filled' : 'default'}
              color={copied ? 'teal' : undefined}
              size="xs"
              onClick={copy}
              aria-label={copied ? `${label} copied` : `Copy ${label}`}
            >
              {copied ? 'Copied' : 'Copy'}
            </Button>
          </Tooltip>
        )}
      </CopyButton>
    </Group>
  );
}

/** An inline result line of an action: red for an error, green for a success. */
export function ActionAlert({ error, success }: { error?: string | null; success?: string | null }) {
  if (error !== null && error !== undefined) {
    return (
      <Alert color="red" role="alert" data-testid="action-error">
        {error}
      </Alert>
    );
  }
  if (success !== null && success !== undefined) {
    return (
      <Alert color="green" role="status" data-testid="action-success">
        {success}
      </Alert>
    );
  }
  return null;
}

/** Runs one async action at a time and keeps its pending flag and error message. */
export function useAction(byCode: Record<string, string> = {}) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const codes = useRef(byCode);
  codes.current = byCode;
  const run = useCallback(async (action: () => Promise<void>): Promise<boolean> => {
    setPending(true);
    setError(null);
    try {
      await action();
      return true;
    } catch (err) {
      setError(actionMessage(err, codes.current));
      return false;
    } finally {
      setPending(false);
    }
  }, []);
  return { pending, error, setError, run };
}

/**
 * A button that asks first: a small dialog names what happens, and only its confirm button acts.
 * The dialog shows the action's error, if any, in the server's words.
 */
export function ConfirmButton({
  label,
  title,
  children,
  confirmLabel,
  onConfirm,
  ariaLabel,
}: {
  label: string;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<void>;
  ariaLabel?: string;
}) {
  const [opened, setOpened] = useState(false);
  const { pending, error, setError, run } = useAction();
  return (
    <>
      <Button
        variant="subtle"
        color="red"
        size="xs"
        onClick={() => {
          setError(null);
          setOpened(true);
        }}
        aria-label={ariaLabel ?? label}
      >
        {label}
      </Button>
      <Modal opened={opened} onClose={() => setOpened(false)} title={title} centered>
        <Stack>
          <Text size="sm" component="div">
            {children}
          </Text>
          <ActionAlert error={error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setOpened(false)}>
              Cancel
            </Button>
            <Button
              color="red"
              loading={pending}
              onClick={() => void run(onConfirm).then((ok) => ok && setOpened(false))}
            >
              {confirmLabel}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}

const isRole = (v: string): v is Role => ROLES.some((r) => r === v);

/** The role to give someone: owner only when the caller is an owner (the server's rule too). */
export function RoleSelect({
  value,
  onChange,
  callerRole,
}: {
  value: Role;
  onChange: (role: Role) => void;
  callerRole: Role;
}) {
  return (
    <NativeSelect
      label="Role"
      value={value}
      onChange={(e) => {
        const v = e.currentTarget.value;
        if (isRole(v)) onChange(v);
      }}
      data={ROLES.filter((r) => r !== 'owner' || callerRole === 'owner').map((r) => ({ value: r, label: r }))}
    />
  );
}

/** A one-line form: its fields, then the submit button (the form's default action stays in the page). */
export function InlineForm({
  label,
  submitLabel,
  pending = false,
  secondary = false,
  onSubmit,
  alert,
  children,
}: {
  /** The form's accessible name. */
  label: string;
  submitLabel: string;
  pending?: boolean;
  /** A default (grey) button, for a form that only filters. */
  secondary?: boolean;
  onSubmit: () => void | Promise<void>;
  /** Shown below the fields, inside the form (the form's own error). */
  alert?: ReactNode;
  children: ReactNode;
}) {
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void onSubmit();
  };
  const row = (
    <Group align="flex-end" gap="xs" wrap="wrap">
      {children}
      <Button type="submit" loading={pending} variant={secondary ? 'default' : undefined}>
        {submitLabel}
      </Button>
    </Group>
  );
  return (
    <form onSubmit={submit} aria-label={label}>
      {alert === undefined ? (
        row
      ) : (
        <Stack gap="xs">
          {row}
          {alert}
        </Stack>
      )}
    </form>
  );
}

/** A list's load error, its first load, or its empty state (whichever holds); nothing once it has rows. */
export function ListStatus({
  list,
  count,
  errorTitle,
  loadingText,
  emptyText,
}: {
  list: { data: unknown; error: string | null };
  /** Rows to show; the empty state only when 0. */
  count: number;
  errorTitle: string;
  loadingText: string;
  emptyText?: ReactNode;
}) {
  return (
    <>
      {list.error !== null && <PageError error={list.error} title={errorTitle} />}
      {list.data === null && list.error === null && <PageLoading what={loadingText} />}
      {list.data !== null && count === 0 && emptyText !== undefined && <Text c="dimmed">{emptyText}</Text>}
    </>
  );
}

/** What an action just created, with the secret or link that is shown only this once. */
export function CreatedAlert({
  color,
  title,
  testId,
  secret,
  children,
}: {
  color: 'green' | 'yellow';
  title: string;
  testId: string;
  secret?: { value: string; label: string; testId: string };
  children: ReactNode;
}) {
  return (
    <Alert color={color} title={title} data-testid={testId}>
      <Stack gap="xs">
        <Text size="sm">{children}</Text>
        {secret !== undefined && <CopyBlock value={secret.value} label={secret.label} testId={secret.testId} />}
      </Stack>
    </Alert>
  );
}

/**
 * A ConfirmButton that DELETEs `path`; the list is reloaded (`onSettled`) whether or not it
 * worked, `onDeleted` runs only when it did.
 */
export function DeleteButton({
  path,
  onSettled,
  onDeleted,
  ...confirm
}: {
  path: string;
  onSettled: () => void;
  onDeleted?: () => void;
  label: string;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  ariaLabel: string;
}) {
  return (
    <ConfirmButton
      {...confirm}
      onConfirm={async () => {
        await apiSend('DELETE', path).finally(onSettled);
        onDeleted?.();
      }}
    />
  );
}

/** Key=value rows (cluster labels, channel label filters): add and remove rows, edit in place. */
export type LabelRow = { key: string; value: string };

export function LabelRows({
  rows,
  onChange,
  legend,
  disabled,
}: {
  rows: LabelRow[];
  onChange: (rows: LabelRow[]) => void;
  legend: string;
  disabled?: boolean;
}) {
  const set = (i: number, patch: Partial<LabelRow>): void =>
    onChange(rows.map((r, n) => (n === i ? { ...r, ...patch } : r)));
  return (
    <Stack gap={6} role="group" aria-label={legend}>
      <Text size="sm" fw={500}>
        {legend}
      </Text>
      {rows.map((row, i) => (
        <Group key={i} gap="xs" wrap="nowrap">
          <input
            className="niro-label-input"
            aria-label={`${legend}: key ${i + 1}`}
            placeholder="key"
            value={row.key}
            disabled={disabled}
            onChange={(e) => set(i, { key: e.currentTarget.value })}
          />
          <Text span>=</Text>
          <input
            className="niro-label-input"
            aria-label={`${legend}: value ${i + 1}`}
            placeholder="value"
            value={row.value}
            disabled={disabled}
            onChange={(e) => set(i, { value: e.currentTarget.value })}
          />
          <ActionIcon
            variant="subtle"
            color="gray"
            aria-label={`Remove ${legend.toLowerCase()} row ${i + 1}`}
            disabled={disabled}
            onClick={() => onChange(rows.filter((_, n) => n !== i))}
          >
            ×
          </ActionIcon>
        </Group>
      ))}
      <Group>
        <Button
          variant="default"
          size="xs"
          disabled={disabled}
          onClick={() => onChange([...rows, { key: '', value: '' }])}
        >
          Add a label
        </Button>
      </Group>
      <style dangerouslySetInnerHTML={{ __html: LABEL_CSS }} />
    </Stack>
  );
}

const LABEL_CSS = `
.niro-label-input{flex:1;min-width:0;height:30px;padding:0 8px;border:1px solid var(--mantine-color-default-border);border-radius:var(--mantine-radius-sm);background:var(--mantine-color-body);color:var(--mantine-color-text);font-size:var(--mantine-font-size-sm)}
.niro-label-input:focus-visible{outline:2px solid var(--mantine-primary-color-filled);outline-offset:1px}
`;

const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

/** Rows to a label map (empty rows dropped), or the first problem in words (the rules of Labels in api.ts). */
export function labelsFromRows(rows: LabelRow[]): { labels: Record<string, string> } | { error: string } {
  const labels: Record<string, string> = {};
  for (const { key, value } of rows) {
    const k = key.trim();
    const v = value.trim();
    if (k === '' && v === '') continue;
    if (!LABEL_KEY.test(k)) return { error: `Label key "${k}": letters, digits, ".", "_", "-" and "/"` };
    if (v.length > 63 || !LABEL_VALUE.test(v)) {
      return { error: `Label value of "${k}": up to 63 letters, digits, ".", "_" and "-"` };
    }
    if (k in labels) return { error: `Label "${k}" appears twice` };
    labels[k] = v;
  }
  return { labels };
}
