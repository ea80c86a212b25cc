import { useEffect, useMemo, useRef, type ReactElement } from 'react';
import { Box, SegmentedControl, Text, VisuallyHidden, useComputedColorScheme } from '@mantine/core';
import type { UsageRange } from '@niro/protocol';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatBytes } from '../../lib/format.js';

export type UsageChartProps = {
  /** What is measured, e.g. "CPU"; the chart's accessible name starts with it. */
  label: string;
  /** Sample times in ms since the epoch, ascending. */
  timesMs: number[];
  /** One value per time; null where nothing was reported (drawn as a gap). */
  values: (number | null)[];
  /** Drawn as a dashed line across the chart when known (the cluster's allocatable CPU or memory). */
  capacity?: number | null;
  /** The time window shown (e.g. the last hour), so a few points do not stretch over the whole width. */
  windowMs?: { startMs: number; endMs: number };
  /** Axis, legend and summary text for a value, e.g. formatCpu. */
  format: (value: number) => string;
  /** A Mantine colour name for the series line. */
  color?: string;
  height?: number;
  /** Shown instead of the chart when every value is null. */
  emptyText: string;
  'data-testid'?: string;
};

/** Current value, peak and capacity in words: the chart's text equivalent for screen readers. */
export function usageSummary(
  label: string,
  values: (number | null)[],
  capacity: number | null | undefined,
  format: (value: number) => string,
): string {
  const known = values.filter((v): v is number => v !== null);
  if (known.length === 0) return `${label}: no data`;
  const now = known[known.length - 1] ?? 0;
  const peak = Math.max(...known);
  const of = capacity !== null && capacity !== undefined && capacity > 0 ? ` of ${format(capacity)}` : '';
  return `${label} ${format(now)}${of} now, peak ${format(peak)}, low ${format(Math.min(...known))}`;
}

/** A Mantine CSS variable as the browser resolved it for `el` (so light and dark both apply). */
function cssVar(el: Element, name: string, fallback: string): string {
  const v = getComputedStyle(el).getPropertyValue(name).trim();
  return v === '' ? fallback : v;
}

/**
 * A time series drawn with uPlot: follows the colour scheme (axis and grid colours are read from
 * Mantine's CSS variables), resizes with its container, and carries a visually hidden summary.
 */
export function UsageChart({
  label,
  timesMs,
  values,
  capacity = null,
  windowMs,
  format,
  color = 'blue',
  height = 180,
  emptyText,
  'data-testid': testId,
}: UsageChartProps) {
  const hostRef = useRef<HTMLDivElement>(null);
  const scheme = useComputedColorScheme('light');
  const empty = values.every((v) => v === null);
  const summary = usageSummary(label, values, capacity, format);
  const formatRef = useRef(format);
  formatRef.current = format;

  useEffect(() => {
    const host = hostRef.current;
    if (host === null || empty) return;
    const text = cssVar(host, '--mantine-color-dimmed', '#868e96');
    const grid = cssVar(host, '--mantine-color-default-border', '#dee2e6');
    const line = cssVar(host, `--mantine-color-${color}-filled`, '#228be6');
    const fill = cssVar(host, `--mantine-color-${color}-light`, 'rgba(34,139,230,0.1)');
    const capLine = cssVar(host, '--mantine-color-red-filled', '#fa5252');
    const font = `11px ${cssVar(host, '--mantine-font-family', 'sans-serif')}`;
    const fmt = (v: number | null): string => (v === null ? '–' : formatRef.current(v));
    const hasCapacity = capacity !== null && capacity > 0;
    const peak = Math.max(0, ...values.filter((v): v is number => v !== null));
    const top = Math.max(peak, hasCapacity ? capacity : 0) * 1.08 || 1;

    const series: uPlot.Series[] = [{}, { label, stroke: line, fill, width: 2, value: (_u, v) => fmt(v) }];
    const data: uPlot.AlignedData = [timesMs.map((t) => t / 1000), values];
    // Capacity is one value: a dashed rule across the plot, drawn after the series.
    const drawCapacity = (u: uPlot): void => {
      if (!hasCapacity) return;
      const y = Math.round(u.valToPos(capacity, 'y', true));
      const { left, width } = u.bbox;
      u.ctx.save();
      u.ctx.strokeStyle = capLine;
      u.ctx.lineWidth = devicePixelRatio;
      u.ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
      u.ctx.beginPath();
      u.ctx.moveTo(left, y);
      u.ctx.lineTo(left + width, y);
      u.ctx.stroke();
      u.ctx.restore();
    };
    const startS = windowMs === undefined ? null : windowMs.startMs / 1000;
    const endS = windowMs === undefined ? null : windowMs.endMs / 1000;
    const axis = (extra: uPlot.Axis): uPlot.Axis => ({
      stroke: text,
      font,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      ...extra,
    });
    const chart = new uPlot(
      {
        width: Math.max(200, host.clientWidth),
        height,
        series,
        scales: {
          x: startS === null || endS === null ? { time: true } : { time: true, range: [startS, endS] },
          y: { range: [0, top] },
        },
        hooks: { draw: [drawCapacity] },
        axes: [axis({}), axis({ size: 64, values: (_u, splits) => splits.map((v) => formatRef.current(v)) })],
        legend: { show: true, live: true },
        cursor: { drag: { x: false, y: false } },
      },
      data,
      host,
    );
    const observer = new ResizeObserver(() => {
      const width = Math.max(200, host.clientWidth);
      if (width !== chart.width) chart.setSize({ width, height });
    });
    observer.observe(host);
    return () => {
      observer.disconnect();
      chart.destroy();
    };
  }, [empty, timesMs, values, capacity, windowMs, label, color, height, scheme]);

  return (
    <Box data-testid={testId}>
      {empty ? (
        <Text size="sm" c="dimmed" py="md" data-testid="usage-empty">
          {emptyText}
        </Text>
      ) : (
        <>
          <VisuallyHidden data-testid="usage-summary">{summary}</VisuallyHidden>
          {/* The canvas says nothing to a screen reader; the summary above says it in words. */}
          <div ref={hostRef} aria-hidden="true" className="niro-usage-chart" />
          {capacity !== null && capacity > 0 && (
            <Text size="xs" c="dimmed" aria-hidden="true">
              Dashed: capacity {format(capacity)}
            </Text>
          )}
        </>
      )}
      <style dangerouslySetInnerHTML={{ __html: CHART_CSS }} />
    </Box>
  );
}

/** uPlot's legend inherits the page's colours and font size. */
const CHART_CSS = `.niro-usage-chart .u-legend{color:var(--mantine-color-text);font-size:var(--mantine-font-size-xs)}
.niro-usage-chart{width:100%;min-width:0}`;

type UsagePoint = { t: string; cpuMilli: number | null; memoryBytes: number | null };

export type UsageSeries = {
  /** The whole range on the time axis: one point does not stretch over years. */
  windowMs: { startMs: number; endMs: number };
  timesMs: number[];
  cpu: (number | null)[];
  memory: (number | null)[];
  /** Neither CPU nor memory was reported in the range. */
  empty: boolean;
};

/** Chart series of usage points over the last hour or day; stable arrays, so a chart is rebuilt only when the data changes. */
export function useUsageSeries(points: readonly UsagePoint[] | undefined, range: UsageRange): UsageSeries {
  return useMemo(() => {
    const list = points ?? [];
    const timesMs = list.map((p) => Date.parse(p.t));
    const endMs = Math.max(Date.now(), ...timesMs);
    const cpu = list.map((p) => p.cpuMilli);
    const memory = list.map((p) => p.memoryBytes);
    return {
      windowMs: { startMs: endMs - (range === '24h' ? 24 : 1) * 3_600_000, endMs },
      timesMs,
      cpu,
      memory,
      empty: cpu.every((v) => v === null) && memory.every((v) => v === null),
    };
  }, [points, range]);
}

/** The last hour or the last 24 hours. */
export function UsageRangeControl({
  label,
  value,
  onChange,
}: {
  label: string;
  value: UsageRange;
  onChange: (range: UsageRange) => void;
}) {
  return (
    <SegmentedControl
      size="xs"
      aria-label={label}
      value={value}
      onChange={(v) => onChange(v === '24h' ? '24h' : '1h')}
      data={[
        { value: '1h', label: 'Last hour' },
        { value: '24h', label: 'Last 24 hours' },
      ]}
    />
  );
}

/** The CPU and the memory chart of a series, keyed, for the caller to lay out. */
export function cpuMemoryCharts(
  series: UsageSeries,
  options: {
    formatCpu: (milli: number) => string;
    capacity?: { cpuMilli: number | null; memoryBytes: number | null } | null;
    emptyText: { cpu: string; memory: string };
    testIdPrefix: string;
    height?: number;
  },
): { title: string; chart: ReactElement }[] {
  const charts = [
    { title: 'CPU', key: 'cpu', values: series.cpu, capacity: options.capacity?.cpuMilli, format: options.formatCpu },
    {
      title: 'Memory',
      key: 'memory',
      values: series.memory,
      capacity: options.capacity?.memoryBytes,
      format: formatBytes,
    },
  ] as const;
  return charts.map((c) => ({
    title: c.title,
    chart: (
      <UsageChart
        key={c.key}
        label={c.title}
        timesMs={series.timesMs}
        values={c.values}
        capacity={c.capacity ?? null}
        windowMs={series.windowMs}
        format={c.format}
        color={c.key === 'cpu' ? 'blue' : 'grape'}
        height={options.height}
        emptyText={options.emptyText[c.key]}
        data-testid={`${options.testIdPrefix}${c.key}`}
      />
    ),
  }));
}
