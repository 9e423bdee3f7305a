/**
 * `sluice-lab report`: one self-contained HTML page from every result in lab-results/: per
 * experiment, what it reproduces, the seed's published table beside ours, the plots (inline SVG),
 * the environment and the notes. No script, no stylesheet or font from elsewhere: it opens offline.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { experiments } from '../experiments/index.js';
import { readResult, resultsDir } from '../harness/results.js';
import { formatNumber } from '../harness/table.js';
import type { Experiment, ExperimentResult, Row } from '../harness/types.js';
import { planPlots, renderSvg } from './plots.js';
import { SEED_TABLES, type SeedTable } from './seed-tables.js';
import { STYLE } from './style.js';

/** What the report knows of an experiment: registered ones in full, others from their JSON alone. */
type Described = Pick<
  Experiment,
  'name' | 'title' | 'description' | 'variants' | 'baseline' | 'metrics' | 'headline'
> & {
  seed: string | undefined;
};

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Inline `code` in descriptions and notes. */
function prose(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

/** Reads every `*.json` in `dir` that has the result shape; others are reported and ignored. */
export function loadResults(dir = resultsDir()): { results: ExperimentResult[]; ignored: string[] } {
  const results: ExperimentResult[] = [];
  const ignored: string[] = [];
  if (!existsSync(dir)) return { results, ignored };
  for (const name of readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()) {
    try {
      const result = readResult(path.join(dir, name));
      if (typeof result.experiment !== 'string' || !Array.isArray(result.rows))
        throw new Error('not a lab result');
      results.push(result);
    } catch (error) {
      ignored.push(`${name}: ${(error as Error).message}`);
    }
  }
  return { results, ignored };
}

function describe(result: ExperimentResult): Described {
  const known = experiments.find((experiment) => experiment.name === result.experiment);
  if (known !== undefined) return { ...known, seed: known.seed };
  const rows = result.rows.filter((row) => row.skipped === undefined);
  const metrics = [...new Set(rows.flatMap((row) => Object.keys(row.median)))];
  return {
    name: result.experiment,
    title: result.experiment,
    description:
      'This experiment is not registered in this checkout of the lab; its results are shown as recorded.',
    variants: [...new Set(result.rows.map((row) => row.variant))],
    baseline: result.rows[0]?.variant ?? '',
    metrics,
    headline: { metric: metrics[0] ?? 'ms', higherIsBetter: false },
    seed: SEED_TABLES[result.experiment]?.seed,
  };
}

function seedTableHtml(table: SeedTable): string {
  return [
    `<p class="caption">${prose(table.caption)}</p>`,
    '<table class="seed">',
    `<thead><tr>${table.columns.map((column) => `<th>${escapeHtml(column)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...table.rows.map((cells) => `<tr>${cells.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`),
    '</tbody></table>',
    table.note === undefined ? '' : `<p class="note">${prose(table.note)}</p>`,
  ].join('\n');
}

function ourTableHtml(described: Described, result: ExperimentResult): string {
  const dimNames = [...new Set(result.rows.flatMap((row) => Object.keys(row.dims)))];
  const metrics = described.metrics.filter((metric) => result.rows.some((row) => metric in row.median));
  const headline = described.headline.metric;
  const ratio = (row: Row): string => {
    const value = row.ratio?.[headline];
    return value === undefined ? '' : `${value.toFixed(2)}x`;
  };
  const runs = Math.min(
    ...result.rows.filter((row) => row.skipped === undefined).map((row) => row.runs.length),
  );
  return [
    `<p class="caption">This machine: medians of ${Number.isFinite(runs) ? runs : 0} runs; ratio = ${escapeHtml(headline)} ÷ ` +
      `<code>${escapeHtml(described.baseline)}</code>'s with the same dims (${described.headline.higherIsBetter ? 'higher' : 'lower'} is better)</p>`,
    '<table class="ours">',
    `<thead><tr>${['variant', ...dimNames, ...metrics, 'ratio']
      .map((column) => `<th>${escapeHtml(column)}</th>`)
      .join('')}</tr></thead>`,
    '<tbody>',
    ...result.rows.map((row) => {
      const cells =
        row.skipped !== undefined
          ? [`<td colspan="${metrics.length + 1}" class="skipped">skipped: ${escapeHtml(row.skipped)}</td>`]
          : [
              ...metrics.map((metric) => `<td>${formatNumber(row.median[metric])}</td>`),
              `<td>${ratio(row)}</td>`,
            ];
      const baseline = row.variant === described.baseline ? ' class="baseline"' : '';
      return `<tr${baseline}><td>${escapeHtml(row.variant)}</td>${dimNames
        .map((name) => `<td>${escapeHtml(String(row.dims[name] ?? ''))}</td>`)
        .join('')}${cells.join('')}</tr>`;
    }),
    '</tbody></table>',
  ].join('\n');
}

function environmentHtml(result: ExperimentResult): string {
  const env = result.env ?? ({} as ExperimentResult['env']);
  const items: Array<[string, string]> = [
    ['date', String(env.date ?? '?')],
    ['Node', String(env.node ?? '?')],
    ['CPUs', `${env.cpus ?? '?'} (${env.cpuModel ?? '?'})`],
    ['memory', `${env.memoryGiB ?? '?'} GiB`],
    ['kernel', String(env.kernel ?? '?')],
  ];
  return [
    '<dl class="env">',
    ...items.map(([key, value]) => `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(value)}</dd>`),
    '</dl>',
    `<details><summary>parameters</summary><pre>${escapeHtml(JSON.stringify(result.params ?? {}, null, 2))}</pre></details>`,
  ].join('\n');
}

async function experimentHtml(result: ExperimentResult): Promise<{ html: string; plots: number }> {
  const described = describe(result);
  const seed = SEED_TABLES[result.experiment];
  const plots = planPlots({
    experiment: result.experiment,
    rows: result.rows,
    variants: described.variants,
    headline: described.headline.metric,
  });
  const figures: string[] = [];
  for (const plot of plots) {
    const svg = await renderSvg(plot.spec);
    figures.push(
      `<figure class="plot ${plot.kind}" id="${escapeHtml(plot.id)}" data-plot="${escapeHtml(plot.id)}">` +
        `<figcaption>${escapeHtml(plot.title)}</figcaption>${svg}</figure>`,
    );
  }
  const notes = result.notes ?? [];
  const html = [
    `<section class="experiment" id="${escapeHtml(result.experiment)}">`,
    `<h2>${escapeHtml(result.experiment)}: ${prose(described.title)}</h2>`,
    `<p class="seedref">Seed <code>${escapeHtml(described.seed ?? seed?.seed ?? 'none')}</code> · reproduce: ` +
      `<code>npx sluice-lab ${escapeHtml(result.experiment)}</code></p>`,
    `<p>${prose(described.description)}</p>`,
    '<div class="side-by-side">',
    `<div class="column"><h3>The seed's published figures</h3>${
      seed === undefined
        ? '<p class="note">No figures transcribed for this experiment.</p>'
        : seed.tables.map(seedTableHtml).join('\n')
    }</div>`,
    `<div class="column ours"><h3>Ours</h3>${ourTableHtml(described, result)}</div>`,
    '</div>',
    figures.length === 0
      ? '<p class="note">Nothing measured to plot.</p>'
      : `<div class="plots">${figures.join('\n')}</div>`,
    notes.length === 0
      ? ''
      : `<h3>Notes</h3><ul class="notes">${notes.map((note) => `<li>${prose(note)}</li>`).join('')}</ul>`,
    `<h3>Environment</h3>${environmentHtml(result)}`,
    '</section>',
  ].join('\n');
  return { html, plots: figures.length };
}

export interface Report {
  html: string;
  experiments: string[];
  plots: number;
}

/** The whole page for these results, in the registry's order (unregistered experiments last). */
export async function buildReport(
  results: readonly ExperimentResult[],
  ignored: readonly string[] = [],
): Promise<Report> {
  const order = (name: string): number => {
    const index = experiments.findIndex((experiment) => experiment.name === name);
    return index === -1 ? experiments.length : index;
  };
  const sorted = [...results].sort(
    (a, b) => order(a.experiment) - order(b.experiment) || a.experiment.localeCompare(b.experiment),
  );
  const sections: string[] = [];
  let plots = 0;
  for (const result of sorted) {
    const section = await experimentHtml(result);
    sections.push(section.html);
    plots += section.plots;
  }
  const generated = new Date().toISOString();
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sluice lab report</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>sluice lab report</h1>
<p>Each experiment reproduces a seed's measurement on this machine, side by side with what Node users would pick
instead. Figures are medians of isolated runs (each case in a fresh process, warm-up excluded); ratios compare rows
of the same run. Generated ${escapeHtml(generated)} from ${sorted.length} result file(s) by <code>npx sluice-lab report</code>.</p>
${
  sorted.length === 0
    ? '<p class="note">No results yet: run <code>npx sluice-lab EXPERIMENT</code> first.</p>'
    : `<nav><ul>${sorted
        .map(
          (result) =>
            `<li><a href="#${escapeHtml(result.experiment)}">${escapeHtml(result.experiment)}</a></li>`,
        )
        .join('')}</ul></nav>`
}
${ignored.length === 0 ? '' : `<p class="note">Ignored: ${ignored.map(escapeHtml).join('; ')}</p>`}
</header>
<main>
${sections.join('\n')}
</main>
</body>
</html>
`;
  return { html, experiments: sorted.map((result) => result.experiment), plots };
}

/** Builds the report from `lab-results/*.json` and writes it to `out`. */
export async function writeReport(
  out = path.join(resultsDir(), 'report.html'),
): Promise<Report & { file: string }> {
  const { results, ignored } = loadResults();
  const report = await buildReport(results, ignored);
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileSync(out, report.html);
  return { ...report, file: out };
}
