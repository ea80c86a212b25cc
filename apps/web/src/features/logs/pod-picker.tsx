import { useMemo, useState } from 'react';
import { Select } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { PodPage } from '@niro/protocol';
import { useApi } from '../../lib/use-api.js';

const PICKER_LIMIT = 200;

/**
 * A searchable choice of the cluster's pods (`namespace/name`). Typing asks the server for pods
 * whose name contains the text, so clusters with more pods than one page still find theirs.
 */
export function PodPicker({
  clusterId,
  value,
  onChange,
}: {
  clusterId: string;
  value: { namespace: string; pod: string } | null;
  onChange: (value: { namespace: string; pod: string } | null) => void;
}) {
  const selected = value === null ? null : `${value.namespace}/${value.pod}`;
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search, 250);
  // The box shows the chosen pod's label as its search text: that is not a query.
  const typed = debounced === selected ? '' : (debounced.split('/').pop() ?? '').trim();
  const path = `/clusters/${encodeURIComponent(clusterId)}/pods?limit=${PICKER_LIMIT}${
    typed === '' ? '' : `&q=${encodeURIComponent(typed)}`
  }`;
  const { data, error, loading } = useApi(path, PodPage);

  const options = useMemo(() => {
    const values = (data?.items ?? []).map((p) => `${p.namespace}/${p.name}`);
    if (selected !== null && !values.includes(selected)) values.unshift(selected);
    return values;
  }, [data, selected]);

  const more = data?.nextCursor !== null && data?.nextCursor !== undefined;
  return (
    <Select
      label="Pod"
      placeholder={loading && data === null ? 'Loading pods…' : 'Search pods by name'}
      searchable
      clearable
      data={options}
      value={selected}
      onSearchChange={setSearch}
      onChange={(v) => {
        const slash = v === null ? -1 : v.indexOf('/');
        onChange(v === null || slash < 0 ? null : { namespace: v.slice(0, slash), pod: v.slice(slash + 1) });
      }}
      nothingFoundMessage={loading ? 'Searching…' : 'No pod with that name in this cluster'}
      error={error ?? undefined}
      description={more ? `The first ${PICKER_LIMIT} pods; type to search the others` : undefined}
      miw={360}
      maxDropdownHeight={320}
      data-testid="log-pod-select"
    />
  );
}
