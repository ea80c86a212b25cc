import { useState, type FormEvent } from 'react';
import { Badge, Box, Button, Group, NativeSelect, Stack, Text, TextInput, Title } from '@mantine/core';
import type { Org } from '@niro/protocol';
import { apiSend } from '../../lib/api.js';
import type { SectionProps } from './settings-page.js';
import { orgPath } from './settings-page.js';
import { ActionAlert, InlineForm, roleAtLeast, useAction } from './settings-ui.js';

/** The organizations the user can see, as a tree: create a child under one, rename one. */
export function OrganizationsSection({ org, orgs, reloadOrgs }: SectionProps) {
  const parents = orgs.filter((o) => roleAtLeast(o.role, 'admin'));
  const [parentId, setParentId] = useState(roleAtLeast(org.role, 'admin') ? org.id : (parents[0]?.id ?? ''));
  const [name, setName] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const create = useAction();
  const visibleIds = new Set(orgs.map((o) => o.id));
  const roots = orgs.filter((o) => o.parentId === null || !visibleIds.has(o.parentId));

  const submit = async (): Promise<void> => {
    setDone(null);
    const wanted = name.trim();
    const ok = await create.run(async () => {
      await apiSend('POST', '/orgs', { name: wanted, parentId });
    });
    if (ok) {
      setName('');
      setDone(`${wanted} was created.`);
      reloadOrgs();
    }
  };

  return (
    <Stack>
      <Title order={3} size="h4">
        Organizations
      </Title>
      <Text size="sm" c="dimmed">
        A role in an organization holds in every organization below it. Clusters, channels and members belong to one
        organization.
      </Text>
      {parents.length > 0 ? (
        <InlineForm
          label="Create a child organization"
          submitLabel="Create organization"
          pending={create.pending}
          onSubmit={submit}
        >
          <TextInput
            label="Name of the new organization"
            required
            maxLength={100}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            style={{ flex: 1, minWidth: 200 }}
          />
          <NativeSelect
            label="Below"
            value={parentId}
            onChange={(e) => setParentId(e.currentTarget.value)}
            data={parents.map((p) => ({ value: p.id, label: orgPath(p, orgs) }))}
          />
        </InlineForm>
      ) : (
        <Text size="sm">Admins of an organization create organizations below it; you are not an admin anywhere.</Text>
      )}
      <ActionAlert error={create.error} success={done} />
      <Box component="ul" aria-label="Organization tree" className="niro-org-tree" data-testid="org-tree">
        {roots.map((o) => (
          <OrgNode key={o.id} org={o} orgs={orgs} selectedId={org.id} onChanged={reloadOrgs} />
        ))}
      </Box>
      <style dangerouslySetInnerHTML={{ __html: TREE_CSS }} />
    </Stack>
  );
}

function OrgNode({
  org,
  orgs,
  selectedId,
  onChanged,
}: {
  org: Org;
  orgs: Org[];
  selectedId: string;
  onChanged: () => void;
}) {
  const children = orgs.filter((o) => o.parentId === org.id);
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(org.name);
  const rename = useAction();
  const canRename = roleAtLeast(org.role, 'admin');

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const ok = await rename.run(async () => {
      await apiSend('PATCH', `/orgs/${encodeURIComponent(org.id)}`, { name: name.trim() });
    });
    if (ok) {
      setEditing(false);
      onChanged();
    }
  };

  return (
    <li data-org={org.name}>
      {editing ? (
        <form onSubmit={(e) => void submit(e)} aria-label={`Rename ${org.name}`}>
          <Group gap="xs" align="flex-end" wrap="wrap">
            <TextInput
              size="xs"
              label={`New name of ${org.name}`}
              required
              maxLength={100}
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
            />
            <Button size="xs" type="submit" loading={rename.pending}>
              Save
            </Button>
            <Button size="xs" variant="default" onClick={() => setEditing(false)}>
              Cancel
            </Button>
          </Group>
          <ActionAlert error={rename.error} />
        </form>
      ) : (
        <Group gap="xs" py={4} wrap="wrap">
          <Text fw={org.id === selectedId ? 700 : 400}>{org.name}</Text>
          <Badge size="sm" variant="light" color="gray">
            {org.role}
          </Badge>
          {canRename && (
            <Button
              size="compact-xs"
              variant="subtle"
              onClick={() => setEditing(true)}
              aria-label={`Rename ${org.name}`}
            >
              Rename
            </Button>
          )}
        </Group>
      )}
      {children.length > 0 && (
        <ul>
          {children.map((c) => (
            <OrgNode key={c.id} org={c} orgs={orgs} selectedId={selectedId} onChanged={onChanged} />
          ))}
        </ul>
      )}
    </li>
  );
}

const TREE_CSS = `
.niro-org-tree, .niro-org-tree ul{list-style:none;margin:0;padding-left:0}
.niro-org-tree ul{padding-left:20px;border-left:1px solid var(--mantine-color-default-border);margin-left:8px}
`;
