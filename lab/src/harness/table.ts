import type { Experiment, ExperimentResult, Row } from './types.js';

/** A plain-text table of a result: one line per row, medians, and the headline ratio to the baseline. */
export function formatTable(
  experiment: Pick<Experiment, 'metrics' | 'headline' | 'baseline'>,
  result: ExperimentResult,
): string {
  const dimNames = [...new Set(result.rows.flatMap((row) => Object.keys(row.dims)))];
  const metrics = experiment.metrics.filter((metric) => result.rows.some((row) => metric in row.median));
  const header = [
    'variant',
    ...dimNames,
    ...metrics,
    `${experiment.headline.metric} vs ${experiment.baseline}`,
  ];
  const lines = result.rows.map((row) => [
    row.variant,
    ...dimNames.map((name) => String(row.dims[name] ?? '')),
    ...(row.skipped !== undefined
      ? [`skipped: ${row.skipped}`, ...metrics.slice(1).map(() => '')]
      : metrics.map((metric) => formatNumber(row.median[metric]))),
    formatRatio(row, experiment.headline.metric),
  ]);
  return renderColumns([header, ...lines]);
}

/** The same as a Markdown table (README and docs are generated from this). */
export function formatMarkdown(
  experiment: Pick<Experiment, 'metrics' | 'headline' | 'baseline'>,
  result: ExperimentResult,
): string {
  const dimNames = [...new Set(result.rows.flatMap((row) => Object.keys(row.dims)))];
  const metrics = experiment.metrics.filter((metric) => result.rows.some((row) => metric in row.median));
  const header = [
    'variant',
    ...dimNames,
    ...metrics,
    `${experiment.headline.metric} vs ${experiment.baseline}`,
  ];
  const lines = result.rows.map((row) => [
    row.variant,
    ...dimNames.map((name) => String(row.dims[name] ?? '')),
    ...metrics.map((metric) => (row.skipped !== undefined ? '' : formatNumber(row.median[metric]))),
    row.skipped !== undefined ? `skipped: ${row.skipped}` : formatRatio(row, experiment.headline.metric),
  ]);
  return [header, header.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export function formatNumber(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function formatRatio(row: Row, metric: string): string {
  const ratio = row.ratio?.[metric];
  return ratio === undefined ? '' : `${ratio.toFixed(2)}x`;
}

function renderColumns(table: string[][]): string {
  const widths = table[0]!.map((_, column) => Math.max(...table.map((line) => (line[column] ?? '').length)));
  return table
    .map((line) =>
      line
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
        .join('  '),
    )
    .join('\n');
}
