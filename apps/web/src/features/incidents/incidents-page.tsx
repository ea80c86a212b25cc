import { Group, Stack, Title } from '@mantine/core';
import { usePageTitle, useRouter } from '../../lib/router.js';
import { IncidentDetailView } from './incident-detail.js';
import { IncidentTable, parseSeverity, parseStateFilter, parseType, type IncidentFilters } from './incident-list.js';
import { IncidentSettingsButton } from './incident-settings.js';

/** `/incidents` (filters in the query: state, severity, type) and `/incidents/<id>`. */
export function IncidentsPage({ id }: { id: string | null }) {
  if (id !== null) return <IncidentDetailView id={id} />;
  return <IncidentIndex />;
}

function IncidentIndex() {
  usePageTitle('Incidents');
  const { location, navigate } = useRouter();
  const filters: IncidentFilters = {
    state: parseStateFilter(location.search.get('state')),
    severity: parseSeverity(location.search.get('severity')),
    type: parseType(location.search.get('type')),
  };
  const onFiltersChange = (next: IncidentFilters): void => {
    const q = new URLSearchParams(location.search);
    const put = (name: string, value: string | null): void => {
      if (value === null) q.delete(name);
      else q.set(name, value);
    };
    put('state', next.state === 'open' ? null : next.state);
    put('severity', next.severity);
    put('type', next.type);
    const qs = q.toString();
    navigate(`${location.pathname}${qs === '' ? '' : `?${qs}`}`, { replace: true });
  };
  return (
    <Stack gap="md">
      <Group justify="space-between">
        <Title order={2} size="h4">
          Incidents
        </Title>
        <IncidentSettingsButton />
      </Group>
      <IncidentTable filters={filters} onFiltersChange={onFiltersChange} />
    </Stack>
  );
}
