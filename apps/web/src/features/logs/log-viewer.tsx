import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import {
  Alert,
  Badge,
  Box,
  Button,
  Group,
  Loader,
  Mark,
  NativeSelect,
  Stack,
  Switch,
  Text,
  TextInput,
} from '@mantine/core';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useSearchParams } from '../../lib/router.js';
import { LOG_BUFFER_LINES, LogBuffer, findMatches, splitMatches, type LogSnapshot } from './log-buffer.js';
import { LogsDisabled } from './logs-disabled.js';
import { ContainerPicker } from './container-picker.js';
import { PodPicker } from './pod-picker.js';
import { useLogStream, type LogStreamState, type LogTarget } from './use-log-stream.js';

const ROW_PX = 20;
const TAIL_CHOICES = ['100', '500', '1000', '5000', '10000'];
const DEFAULT_TAIL_LINES = 500;

/** The live log viewer of one cluster's pods (the cluster page's Logs tab). */
export function LogViewer({ clusterId, logsEnabled }: { clusterId: string; logsEnabled: boolean }) {
  if (!logsEnabled) return <LogsDisabled />;
  return <LiveLogs clusterId={clusterId} />;
}

/** The pod and container come from the address (`?namespace=&pod=&container=`), so a link opens them. */
function useLogParams() {
  const [params, setParams] = useSearchParams();
  return { namespace: params.get('namespace'), pod: params.get('pod'), container: params.get('container'), setParams };
}

function LiveLogs({ clusterId }: { clusterId: string }) {
  const { namespace, pod, container, setParams } = useLogParams();
  const [tailLines, setTailLines] = useState(DEFAULT_TAIL_LINES);
  const [follow, setFollow] = useState(true);
  const [generation, setGeneration] = useState(0);

  // Lines go into the buffer as they come; the view is a snapshot taken at most once a frame,
  // and not at all while paused.
  const buffer = useRef(new LogBuffer());
  const [view, setView] = useState<LogSnapshot>(() => buffer.current.snapshot());
  const [received, setReceived] = useState(0);
  const [pausedAt, setPausedAt] = useState<number | null>(null);
  const paused = useRef(false);
  const frame = useRef<number | null>(null);

  const flush = useCallback(() => {
    frame.current = null;
    setReceived(buffer.current.received);
    if (!paused.current) setView(buffer.current.snapshot());
  }, []);
  const onLines = useCallback(
    (lines: string[]) => {
      buffer.current.push(lines);
      frame.current ??= requestAnimationFrame(flush);
    },
    [flush],
  );
  useEffect(
    () => () => {
      if (frame.current !== null) cancelAnimationFrame(frame.current);
    },
    [],
  );

  const target = useMemo<LogTarget | null>(
    () =>
      namespace === null || pod === null || namespace === '' || pod === ''
        ? null
        : { clusterId, namespace, pod, container: container === '' ? null : container, tailLines, follow },
    [clusterId, namespace, pod, container, tailLines, follow],
  );
  // A new stream starts from its tail: the previous stream's lines would be repeated.
  useEffect(() => {
    buffer.current.clear();
    flush();
    if (paused.current) setPausedAt(buffer.current.received);
  }, [target, generation, flush]);
  const stream = useLogStream(target, generation, onLines);

  const togglePause = (): void => {
    if (paused.current) {
      paused.current = false;
      setPausedAt(null);
      setView(buffer.current.snapshot());
    } else {
      paused.current = true;
      setPausedAt(buffer.current.received);
    }
  };
  const clear = (): void => {
    buffer.current.clear();
    setView(buffer.current.snapshot());
    if (paused.current) setPausedAt(buffer.current.received);
  };

  // Follow the end of the log unless the reader scrolled up.
  const scrollRef = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const [atBottom, setAtBottom] = useState(true);
  const virtualizer = useVirtualizer({
    count: view.lines.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_PX,
    overscan: 20,
  });
  const onScroll = (): void => {
    const el = scrollRef.current;
    if (el === null) return;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < ROW_PX * 1.5;
    stick.current = bottom;
    setAtBottom(bottom);
  };
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (stick.current && el !== null) el.scrollTop = el.scrollHeight;
  }, [view]);
  const toBottom = (): void => {
    stick.current = true;
    setAtBottom(true);
    const el = scrollRef.current;
    if (el !== null) el.scrollTop = el.scrollHeight;
  };

  // Search within the lines on screen (the frozen ones while paused).
  const [query, setQuery] = useState('');
  const [current, setCurrent] = useState(0);
  const matches = useMemo(() => findMatches(view.lines, query), [view.lines, query]);
  const currentIndex = matches.length === 0 ? -1 : Math.min(current, matches.length - 1);
  const currentLine = currentIndex < 0 ? -1 : (matches[currentIndex] ?? -1);
  const go = (step: 1 | -1): void => {
    if (matches.length === 0) return;
    const next = (currentIndex + step + matches.length) % matches.length;
    setCurrent(next);
    const line = matches[next];
    if (line === undefined) return;
    stick.current = false;
    setAtBottom(false);
    virtualizer.scrollToIndex(line, { align: 'center' });
  };
  const onSearchKey = (e: KeyboardEvent<HTMLInputElement>): void => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    go(e.shiftKey ? -1 : 1);
  };

  const newLines = pausedAt === null ? 0 : received - pausedAt;
  const podValue = namespace !== null && pod !== null && namespace !== '' && pod !== '' ? { namespace, pod } : null;

  return (
    <Stack gap="sm" data-testid="log-viewer">
      <Group gap="sm" align="end" wrap="wrap">
        <PodPicker
          clusterId={clusterId}
          value={podValue}
          onChange={(v) => setParams({ namespace: v?.namespace ?? null, pod: v?.pod ?? null, container: null })}
        />
        <ContainerPicker
          clusterId={clusterId}
          pod={podValue}
          value={container === '' ? null : container}
          onChange={(v) => setParams({ container: v })}
        />
        <NativeSelect
          label="Tail lines"
          data={TAIL_CHOICES}
          value={String(tailLines)}
          onChange={(e) => setTailLines(Number(e.currentTarget.value))}
        />
        <Switch
          label="Follow"
          checked={follow}
          onChange={(e) => setFollow(e.currentTarget.checked)}
          mb={8}
          aria-describedby="log-follow-help"
        />
        <Text id="log-follow-help" size="xs" c="dimmed" mb={8} visibleFrom="md">
          keep streaming new lines
        </Text>
      </Group>

      <StreamStatus
        state={stream}
        follow={follow}
        onReconnect={() => setGeneration((g) => g + 1)}
        onContainer={(c) => setParams({ container: c })}
      />

      <Group gap="sm" align="end" wrap="wrap">
        <Button
          variant={pausedAt === null ? 'default' : 'filled'}
          onClick={togglePause}
          aria-pressed={pausedAt !== null}
          disabled={target === null}
        >
          {pausedAt === null ? 'Pause' : 'Resume'}
        </Button>
        {pausedAt !== null && (
          <Badge variant="light" color="yellow" size="lg" data-testid="log-new-lines" role="status">
            {newLines === 1 ? '1 new line' : `${newLines} new lines`}
          </Badge>
        )}
        <Button variant="default" onClick={clear} disabled={view.lines.length === 0}>
          Clear
        </Button>
        <TextInput
          label="Search in log"
          placeholder="text (Enter: next, Shift+Enter: previous)"
          value={query}
          onChange={(e) => {
            setQuery(e.currentTarget.value);
            setCurrent(0);
          }}
          onKeyDown={onSearchKey}
          miw={260}
        />
        <Text size="sm" c="dimmed" mb={8} aria-live="polite" data-testid="log-search-count">
          {query === '' ? '' : matches.length === 0 ? 'no match' : `${currentIndex + 1} of ${matches.length}`}
        </Text>
        <Button variant="default" onClick={() => go(-1)} disabled={matches.length === 0} aria-label="Previous match">
          ↑
        </Button>
        <Button variant="default" onClick={() => go(1)} disabled={matches.length === 0} aria-label="Next match">
          ↓
        </Button>
        {!atBottom && view.lines.length > 0 && (
          <Button variant="light" onClick={toBottom}>
            Jump to latest
          </Button>
        )}
      </Group>

      <Box
        ref={scrollRef}
        onScroll={onScroll}
        role="region"
        aria-label="Log lines"
        tabIndex={0}
        data-testid="log-lines"
        style={{
          height: 'min(60vh, 560px)',
          minHeight: 240,
          overflow: 'auto',
          border: '1px solid var(--mantine-color-default-border)',
          borderRadius: 'var(--mantine-radius-sm)',
          background: 'var(--mantine-color-default)',
          fontFamily: 'var(--mantine-font-family-monospace)',
          fontSize: 12,
        }}
      >
        {view.lines.length === 0 ? (
          <Text size="sm" c="dimmed" p="sm">
            {emptyText(stream, target !== null)}
          </Text>
        ) : (
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative', minWidth: '100%' }}>
            {virtualizer.getVirtualItems().map((row) => {
              const line = view.lines[row.index] ?? '';
              const parts = query === '' ? [line] : splitMatches(line, query);
              return (
                <div
                  key={view.firstLineNumber + row.index}
                  data-testid="log-line"
                  data-current-match={row.index === currentLine ? 'true' : undefined}
                  style={{
                    position: 'absolute',
                    top: 0,
                    left: 0,
                    minWidth: '100%',
                    height: ROW_PX,
                    lineHeight: `${ROW_PX}px`,
                    transform: `translateY(${row.start}px)`,
                    whiteSpace: 'pre',
                    paddingRight: 8,
                    background: row.index === currentLine ? 'var(--mantine-color-blue-light)' : undefined,
                  }}
                >
                  <span
                    aria-hidden="true"
                    style={{
                      display: 'inline-block',
                      minWidth: '6ch',
                      padding: '0 8px',
                      textAlign: 'right',
                      color: 'var(--mantine-color-dimmed)',
                      userSelect: 'none',
                    }}
                  >
                    {view.firstLineNumber + row.index}
                  </span>
                  {parts.map((p, i) =>
                    i % 2 === 1 ? (
                      <Mark key={i} color="yellow" data-testid="log-match">
                        {p}
                      </Mark>
                    ) : (
                      <span key={i}>{p}</span>
                    ),
                  )}
                </div>
              );
            })}
          </div>
        )}
      </Box>
      <Text size="xs" c="dimmed">
        {view.lines.length.toLocaleString()} lines shown; the viewer keeps the latest{' '}
        {LOG_BUFFER_LINES.toLocaleString()}.
      </Text>
    </Stack>
  );
}

function emptyText(state: LogStreamState, hasTarget: boolean): string {
  if (!hasTarget) return 'Choose a pod to read its log.';
  switch (state.phase) {
    case 'connecting':
      return 'Asking the agent for the log…';
    case 'streaming':
      return 'No lines yet: waiting for the pod to write.';
    case 'ended':
      return 'The log is empty.';
    default:
      return 'No lines.';
  }
}

const END_TEXT: Record<'eof' | 'stopped' | 'error', string> = {
  eof: 'the log ended',
  stopped: 'the agent stopped the stream',
  error: 'the Kubernetes API ended the stream',
};

/** Kubernetes names the containers when a pod has several and none was given. */
function containerChoices(message: string): string[] {
  const m = /choose one of: \[([^\]]*)\]/.exec(message);
  return m?.[1]?.split(/\s+/).filter((c) => c !== '') ?? [];
}

function StreamStatus({
  state,
  follow,
  onReconnect,
  onContainer,
}: {
  state: LogStreamState;
  follow: boolean;
  onReconnect: () => void;
  onContainer: (container: string) => void;
}) {
  if (state.phase === 'idle') return null;
  if (state.phase === 'error') {
    const choices = containerChoices(state.message);
    return (
      <Alert
        color="red"
        title="The log stream failed"
        role="alert"
        data-testid="log-stream-state"
        data-phase="error"
        data-code={state.code}
      >
        <Stack gap="xs">
          <Text size="sm">{state.message}</Text>
          <Group gap="xs">
            {choices.map((c) => (
              <Button key={c} size="xs" variant="light" onClick={() => onContainer(c)}>
                Read container {c}
              </Button>
            ))}
            <Button size="xs" variant="default" onClick={onReconnect}>
              Try again
            </Button>
          </Group>
        </Stack>
      </Alert>
    );
  }
  return (
    <Group gap="xs" data-testid="log-stream-state" data-phase={state.phase} role="status">
      {state.phase === 'connecting' && (
        <>
          <Loader size="xs" />
          <Text size="sm">Connecting: the agent takes the request with its next command…</Text>
        </>
      )}
      {state.phase === 'streaming' && (
        <>
          <Badge color="green" variant="light">
            Streaming
          </Badge>
          <Text size="sm" c="dimmed">
            {follow ? 'New lines appear as the pod writes them.' : 'Reading the tail of the log.'}
          </Text>
        </>
      )}
      {state.phase === 'ended' && (
        <>
          <Badge color="gray" variant="light">
            Ended: {state.reason}
          </Badge>
          <Text size="sm" c="dimmed">
            {END_TEXT[state.reason]}
            {state.message === null ? '' : `: ${state.message}`}
          </Text>
          <Button size="xs" variant="default" onClick={onReconnect}>
            Read again
          </Button>
        </>
      )}
    </Group>
  );
}
