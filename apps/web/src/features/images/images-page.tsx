import { useEffect, useRef, useState } from 'react';
import { Badge, Code, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IMAGES_LIMIT_DEFAULT, ImageList } from '@niro/protocol';
import { Link, usePageTitle, useQueryParam } from '../../lib/router.js';
import { useApi } from '../../lib/use-api.js';
import { PageError, PageLoading } from '../shell/page-states.js';
import { podsHref } from '../pods/pod-links.js';

const SEARCH_DELAY_MS = 300;

/** "Where does this image run?": images of the fleet with the clusters that run them. */
export function ImagesPage() {
  usePageTitle('Images');
  const [qParam, setQ] = useQueryParam('q');
  const q = qParam ?? '';
  const [draft, setDraft] = useState(q);
  const [debounced] = useDebouncedValue(draft, SEARCH_DELAY_MS);
  const committed = useRef(q);
  useEffect(() => {
    if (q !== committed.current) {
      committed.current = q;
      setDraft(q);
    }
  }, [q]);
  const setQRef = useRef(setQ);
  setQRef.current = setQ;
  useEffect(() => {
    const next = debounced.trim();
    if (next === committed.current) return;
    committed.current = next;
    setQRef.current(next);
  }, [debounced]);

  const { data, error, loading } = useApi(`/images${q === '' ? '' : `?q=${encodeURIComponent(q)}`}`, ImageList);
  const items = data?.items ?? [];

  return (
    <Stack gap="sm">
      <Title order={2} size="h4">
        Images
      </Title>
      <Text size="sm" c="dimmed">
        Where does an image run? Search any part of the reference: a registry, a repository, a tag or a digest.
      </Text>
      <TextInput
        label="Image"
        placeholder="e.g. nginx, ghcr.io/acme/, :1.25"
        value={draft}
        onChange={(e) => setDraft(e.currentTarget.value)}
        maw={520}
        type="search"
      />
      {error !== null && <PageError error={error} title="Images could not be loaded" />}
      {data === null && loading ? (
        <PageLoading what="Loading images…" />
      ) : data === null ? null : items.length === 0 ? (
        <Text c="dimmed" data-testid="images-empty">
          {q === ''
            ? 'No images yet. Images come from the pods the agents report (the pods capability, on by default); they appear with a cluster’s first heartbeat.'
            : `No image in the fleet matches “${q}”. The search matches any part of the reference, ignoring case: try a shorter part, such as the repository name without its tag.`}
        </Text>
      ) : (
        <>
          <Text size="sm" c="dimmed" data-testid="images-count">
            {items.length === 1 ? '1 image' : `${items.length} images`}
            {items.length >= IMAGES_LIMIT_DEFAULT ? ` (the first ${IMAGES_LIMIT_DEFAULT}; narrow the search)` : ''}
          </Text>
          <Table.ScrollContainer minWidth={640}>
            <Table striped verticalSpacing="xs" data-testid="images-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Image</Table.Th>
                  <Table.Th>Runs in</Table.Th>
                  <Table.Th>Pods</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((row) => (
                  <Table.Tr key={row.image} data-testid="image-row" data-image={row.image}>
                    <Table.Td maw={480}>
                      <Code style={{ wordBreak: 'break-all' }}>{row.image}</Code>
                    </Table.Td>
                    <Table.Td>
                      <Group gap="xs">
                        {row.clusters.map((c) => (
                          <Link
                            key={c.clusterId}
                            href={podsHref({ cluster: c.clusterId, image: row.image })}
                            data-testid="image-cluster"
                          >
                            <Badge variant="light" tt="none" style={{ cursor: 'pointer' }}>
                              {c.clusterName}: {c.pods === 1 ? '1 pod' : `${c.pods} pods`}
                            </Badge>
                          </Link>
                        ))}
                      </Group>
                    </Table.Td>
                    <Table.Td>{row.clusters.reduce((n, c) => n + c.pods, 0)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </>
      )}
    </Stack>
  );
}
