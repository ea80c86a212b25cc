import type { ReactNode } from 'react';
import { Box, Group, NativeSelect, Stack, Text, Title } from '@mantine/core';
import { Me, OrgList, type Org } from '@niro/protocol';
import { useApi } from '../../lib/use-api.js';
import { Link, useQueryParam, usePageTitle } from '../../lib/router.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import { AuditSection } from './audit-section.js';
import { ChannelsSection } from './channels-section.js';
import { InvitationsSection } from './invitations-section.js';
import { MembersSection } from './members-section.js';
import { OrganizationsSection } from './organizations-section.js';
import { TokensSection } from './tokens-section.js';

/** What every section gets: the org picked above, every org the user can see, and the user. */
export type SectionProps = { org: Org; orgs: Org[]; me: Me; reloadOrgs: () => void };

const SECTIONS: { id: string; label: string; render: (p: SectionProps) => ReactNode }[] = [
  { id: 'members', label: 'Members', render: (p) => <MembersSection {...p} /> },
  { id: 'invitations', label: 'Invitations', render: (p) => <InvitationsSection {...p} /> },
  { id: 'organizations', label: 'Organizations', render: (p) => <OrganizationsSection {...p} /> },
  { id: 'tokens', label: 'API tokens', render: (p) => <TokensSection {...p} /> },
  { id: 'channels', label: 'Notification channels', render: (p) => <ChannelsSection {...p} /> },
  { id: 'audit', label: 'Audit log', render: (p) => <AuditSection {...p} /> },
];

/** Settings: organization members, invitations, child organizations, API tokens, notification channels, audit log. */
export function SettingsPage({ section }: { section: string }) {
  const current = SECTIONS.find((s) => s.id === section);
  usePageTitle(current === undefined ? 'Settings' : `${current.label} · Settings`);
  const me = useApi('/me', Me);
  const orgs = useApi('/orgs', OrgList);
  const [orgParam, setOrgParam] = useQueryParam('org');

  const visible = orgs.data?.items ?? [];
  const org = visible.find((o) => o.id === orgParam) ?? visible.find((o) => o.parentId === null) ?? visible[0];
  const query = orgParam === null ? '' : `?org=${encodeURIComponent(orgParam)}`;

  let body: ReactNode;
  if (me.error !== null && me.data === null)
    body = <PageError error={me.error} title="Your account could not be loaded" />;
  else if (orgs.error !== null && orgs.data === null) {
    body = <PageError error={orgs.error} title="Your organizations could not be loaded" />;
  } else if (me.data === null || orgs.data === null) body = <PageLoading what="Loading settings…" />;
  else if (current === undefined) {
    body = <PageError error={`There is no settings section "${section}".`} title="Unknown section" />;
  } else if (org === undefined) {
    body = <Text>You do not belong to an organization yet. Ask an admin to add or invite you.</Text>;
  } else {
    body = current.render({ org, orgs: visible, me: me.data, reloadOrgs: orgs.reload });
  }

  return (
    <Stack gap="md">
      <style dangerouslySetInnerHTML={{ __html: SETTINGS_CSS }} />
      <Group justify="space-between" wrap="wrap" gap="sm">
        <Title order={2} size="h3">
          Settings
        </Title>
        {visible.length > 1 && org !== undefined && (
          <NativeSelect
            label="Organization"
            size="xs"
            value={org.id}
            onChange={(e) => setOrgParam(e.currentTarget.value)}
            data={visible.map((o) => ({ value: o.id, label: `${orgPath(o, visible)} (${o.role})` }))}
            data-testid="org-picker"
          />
        )}
      </Group>
      <Group align="flex-start" gap="lg" wrap="wrap">
        <Box component="nav" aria-label="Settings sections" className="niro-settings-nav">
          {SECTIONS.map((s) => (
            <Link
              key={s.id}
              href={`/settings/${s.id}${query}`}
              className="niro-nav-link niro-settings-link"
              aria-current={s.id === section ? 'page' : undefined}
            >
              {s.label}
            </Link>
          ))}
          <Link href="/registries" className="niro-nav-link niro-settings-link">
            Registry credentials
          </Link>
        </Box>
        <Box style={{ flex: 1, minWidth: 0 }} component="section" aria-label={current?.label ?? 'Settings'}>
          {body}
        </Box>
      </Group>
    </Stack>
  );
}

/** "root / team / sub": where an org sits, so two orgs with one name can be told apart. */
export function orgPath(org: Org, orgs: Org[]): string {
  const names = [org.name];
  let parent = org.parentId;
  for (let depth = 0; parent !== null && depth < 20; depth++) {
    const p = orgs.find((o) => o.id === parent);
    if (p === undefined) break;
    names.unshift(p.name);
    parent = p.parentId;
  }
  return names.join(' / ');
}

const SETTINGS_CSS = `
.niro-settings-nav{display:flex;flex-direction:column;gap:2px;min-width:190px}
.niro-settings-link{display:block}
@media (max-width: 900px){.niro-settings-nav{flex-direction:row;flex-wrap:wrap;min-width:0;width:100%}}
`;
