/**
 * Plots for the report, generic over the result JSON (rows of `{ variant, dims, median, runs }`),
 * so an experiment needs no plotting code of its own. Specs are Vega-Lite, rendered to SVG on the
 * server by Vega's headless view (no browser, no canvas, no network): the page stays one file.
 *
 * - A "sweep" dimension is a dimension whose values are mostly numbers with at least 3 distinct
 *   values (concurrency, clients, rate, readers, tasks, ...); the preferred names win when several.
 * - Panels: one per combination of the other dimensions (e.g. `input=tree`).
 * - Per panel: grouped bars of the headline metric per variant (grouped by the sweep value, or by
 *   the dimensions when there is no sweep), with the runs' min-max as a rule; and, with a sweep,
 *   lines of the headline metric (and of RSS / tail latency when measured) against it.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Row } from '../harness/types.js';

export interface PlotInput {
  experiment: string;
  rows: readonly Row[];
  variants: readonly string[];
  headline: string;
}

export interface Plot {
  id: string;
  title: string;
  kind: 'bars' | 'lines';
  spec: TopLevelSpec;
}

const PREFERRED_SWEEPS = ['concurrency', 'clients', 'rate', 'readers', 'inFlight', 'tasks', 'n', 'size'];
/** Metrics also drawn against the sweep when measured, besides the headline. */
const SECONDARY_LINE_METRICS = ['peakRssMb', 'p99Us', 'p99Ms', 'maxRequestMs'];
const PALETTE = [
  '#4c78a8',
  '#f58518',
  '#54a24b',
  '#e45756',
  '#72b7b2',
  '#b279a2',
  '#eeca3b',
  '#9d755d',
  '#bab0ac',
  '#ff9da6',
];

type DimValue = string | number;

function isNumeric(value: DimValue): boolean {
  return typeof value === 'number' || (value.trim() !== '' && Number.isFinite(Number(value)));
}

/** Numbers ascending, then the rest (`inf`, `back-to-back`) in first-seen order. */
function orderValues(values: readonly DimValue[]): DimValue[] {
  const distinct = [...new Set(values)];
  const numbers = distinct.filter(isNumeric).sort((a, b) => Number(a) - Number(b));
  return [...numbers, ...distinct.filter((value) => !isNumeric(value))];
}

export function sweepDimension(rows: readonly Row[]): string | undefined {
  const names = [...new Set(rows.flatMap((row) => Object.keys(row.dims)))];
  const candidates = names.filter((name) => {
    const values = rows
      .map((row) => row.dims[name])
      .filter((value): value is DimValue => value !== undefined);
    const distinct = new Set(values);
    const numeric = [...distinct].filter(isNumeric).length;
    return distinct.size >= 3 && numeric >= 3 && numeric >= distinct.size / 2;
  });
  return candidates.find((name) => PREFERRED_SWEEPS.includes(name)) ?? candidates[0];
}

function label(dims: Record<string, DimValue>, names: readonly string[]): string {
  return names.length === 0 ? 'all' : names.map((name) => `${name}=${dims[name] ?? '-'}`).join(', ');
}

function safeId(text: string): string {
  return text.replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/** The plots of one experiment's rows (skipped rows and rows without the metric are left out). */
export function planPlots(input: PlotInput): Plot[] {
  const measured = input.rows.filter(
    (row) => row.skipped === undefined && typeof row.median[input.headline] === 'number',
  );
  if (measured.length === 0) return [];
  // the registered order, then any others; only variants with figures (a skipped peer gets no legend entry)
  const present = new Set(measured.map((row) => row.variant));
  const variantOrder = [...new Set([...input.variants, ...measured.map((row) => row.variant)])].filter(
    (variant) => present.has(variant),
  );
  const colorScale = {
    domain: variantOrder,
    range: variantOrder.map((_, index) => PALETTE[index % PALETTE.length]!),
  };
  const sweep = sweepDimension(measured);
  const dimNames = [...new Set(measured.flatMap((row) => Object.keys(row.dims)))];
  const panelDims = dimNames.filter((name) => name !== sweep);
  const panels = new Map<string, Row[]>();
  for (const row of measured) {
    const key = sweep === undefined ? 'all' : label(row.dims, panelDims);
    panels.set(key, [...(panels.get(key) ?? []), row]);
  }
  const plots: Plot[] = [];
  for (const [panel, rows] of panels) {
    const suffix = panel === 'all' ? '' : ` (${panel})`;
    const groupOf = (row: Row): string =>
      sweep === undefined ? label(row.dims, dimNames) : String(row.dims[sweep] ?? '-');
    const groupOrder =
      sweep === undefined
        ? [...new Set(rows.map(groupOf))]
        : orderValues(rows.map((row) => row.dims[sweep] ?? '-')).map(String);
    const bars = rows.map((row) => {
      const values = row.runs
        .map((run) => run[input.headline])
        .filter((value): value is number => typeof value === 'number');
      const median = row.median[input.headline]!;
      return {
        group: groupOf(row),
        variant: row.variant,
        value: median,
        min: values.length > 0 ? Math.min(...values) : median,
        max: values.length > 0 ? Math.max(...values) : median,
      };
    });
    const barWidth = Math.max(360, Math.min(1100, groupOrder.length * variantOrder.length * 16 + 60));
    plots.push({
      id: safeId(`${input.experiment}-bars-${input.headline}-${panel}`),
      title: `${input.headline} per variant${sweep === undefined ? '' : ` by ${sweep}`}${suffix}`,
      kind: 'bars',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
        width: barWidth,
        height: 220,
        data: { values: bars },
        encoding: {
          x: {
            field: 'group',
            type: 'nominal',
            sort: groupOrder,
            title: sweep ?? (dimNames.length === 0 ? null : dimNames.join(', ')),
            axis: { labelAngle: groupOrder.some((group) => group.length > 8) ? -25 : 0, labelLimit: 220 },
          },
          xOffset: { field: 'variant', type: 'nominal', sort: variantOrder },
          color: {
            field: 'variant',
            type: 'nominal',
            scale: colorScale,
            legend: { orient: 'top', title: null },
          },
        },
        layer: [
          {
            mark: { type: 'bar', tooltip: true },
            encoding: { y: { field: 'value', type: 'quantitative', title: `${input.headline} (median)` } },
          },
          {
            mark: { type: 'rule', color: '#333', opacity: 0.6 },
            encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } },
          },
        ],
      } as TopLevelSpec,
    });
    if (sweep === undefined) continue;
    const lineMetrics = [
      input.headline,
      ...SECONDARY_LINE_METRICS.filter(
        (metric) => metric !== input.headline && rows.some((row) => typeof row.median[metric] === 'number'),
      ).slice(0, 1),
    ];
    for (const metric of lineMetrics) {
      const points = rows
        .filter((row) => typeof row.median[metric] === 'number')
        .map((row) => ({
          x: String(row.dims[sweep] ?? '-'),
          variant: row.variant,
          value: row.median[metric]!,
        }));
      const values = points.map((point) => point.value).filter((value) => value > 0);
      const logScale = values.length > 0 && Math.max(...values) / Math.min(...values) > 100;
      plots.push({
        id: safeId(`${input.experiment}-lines-${metric}-${panel}`),
        title: `${metric} against ${sweep}${suffix}`,
        kind: 'lines',
        spec: {
          $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
          width: 420,
          height: 220,
          data: { values: points },
          mark: { type: 'line', point: true, tooltip: true },
          encoding: {
            x: { field: 'x', type: 'ordinal', sort: groupOrder, title: sweep, axis: { labelAngle: 0 } },
            y: {
              field: 'value',
              type: 'quantitative',
              title: `${metric} (median${logScale ? ', log scale' : ''})`,
              scale: logScale ? { type: 'log' } : { zero: true },
            },
            color: {
              field: 'variant',
              type: 'nominal',
              scale: colorScale,
              legend: { orient: 'top', title: null },
            },
          },
        } as TopLevelSpec,
      });
    }
  }
  return plots;
}

/** Renders a Vega-Lite spec to an SVG string, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
