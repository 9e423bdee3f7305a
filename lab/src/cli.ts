#!/usr/bin/env node
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { experiments } from './experiments/index.js';
import { joinFlagValues } from './harness/args.js';
import { environment } from './harness/env.js';
import { acquireLabLock } from './harness/lock.js';
import { writeResult } from './harness/results.js';
import { addRatios } from './harness/stats.js';
import { formatTable } from './harness/table.js';
import type { Experiment, RunContext } from './harness/types.js';
import { updateFiles } from './readme.js';
import { writeReport } from './report/index.js';

const usage = `sluice-lab: the experiments behind sluice, each a seed's measurement reproduced here

Usage:
  sluice-lab EXPERIMENT [--quick] [--full] [--runs N] [--only V1,V2] [--json FILE] [flags]
  sluice-lab all [--quick]          run every experiment
  sluice-lab list                   list the experiments
  sluice-lab readme                 regenerate the results tables in README.md and docs/*.md
                                    from lab-results/*.json
  sluice-lab report [--out FILE]    one self-contained HTML page (plots as inline SVG, each seed's
                                    table beside ours) from lab-results/*.json
                                    (default lab-results/report.html)

Options:
  --quick        a small configuration (CI smoke): fewer runs, smaller inputs
  --full         the seed's whole grid where the default is smaller
  --runs N       measured runs per variant (default 5; at least 5 unless --quick)
  --warmup N     unmeasured runs first (default 1)
  --only LIST    only these variants (comma-separated)
  --json FILE    write the JSON result there (default lab-results/EXPERIMENT.json)

Every figure is the median of the runs; ratios are to the baseline row of the same run.
Progress goes to stderr, the table to stdout. Runs queue machine-wide, in arrival order, so
that two experiments never measure at the same time (SLUICE_LAB_LOCK=0 disables it).

Experiments:
`;

function listing(): string {
  const width = Math.max(...experiments.map((experiment) => experiment.name.length), 8);
  return experiments
    .map((experiment) => `  ${experiment.name.padEnd(width)}  ${experiment.title} (seed ${experiment.seed})`)
    .join('\n');
}

async function runExperiment(
  experiment: Experiment,
  context: RunContext,
  jsonFile: string | undefined,
): Promise<void> {
  const started = Date.now();
  context.progress(`${experiment.name}: ${experiment.title}`);
  const result = await experiment.run(context);
  result.env = environment();
  addRatios(result.rows, experiment.baseline);
  const file = writeResult(result, jsonFile);
  process.stdout.write(
    `\n## ${experiment.name}: ${experiment.title}\n\n${formatTable(experiment, result)}\n`,
  );
  for (const note of result.notes) process.stdout.write(`note: ${note}\n`);
  process.stdout.write(`\n(${((Date.now() - started) / 1000).toFixed(1)} s; JSON: ${file})\n`);
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: joinFlagValues(argv),
    allowPositionals: true,
    strict: false,
    options: {
      quick: { type: 'boolean' },
      full: { type: 'boolean' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      only: { type: 'string' },
      json: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [name] = positionals;
  if (values.help === true || name === undefined) {
    process.stdout.write(`${usage}${listing()}\n`);
    return name === undefined && values.help !== true ? 2 : 0;
  }
  if (name === 'readme') {
    const docs = readdirSync('docs')
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`);
    const updated = updateFiles(['README.md', ...docs]);
    process.stdout.write(
      updated.length === 0 ? 'no table updated (no results?)\n' : `${updated.join('\n')}\n`,
    );
    return 0;
  }
  if (name === 'report') {
    const out = typeof values.out === 'string' ? values.out : undefined;
    const report = await writeReport(out);
    process.stdout.write(
      `${report.file}: ${report.experiments.length} experiment(s) (${report.experiments.join(', ') || 'no results yet'}), ` +
        `${report.plots} plot(s)\n`,
    );
    return 0;
  }
  if (name === 'list') {
    process.stdout.write(`${listing()}\n`);
    return 0;
  }
  const quick = values.quick === true;
  const runs = Number(values.runs ?? (quick ? 3 : 5));
  const warmup = Number(values.warmup ?? 1);
  if (!Number.isSafeInteger(runs) || runs < 1 || (!quick && runs < 5)) {
    process.stderr.write(
      `sluice-lab: --runs must be an integer >= 5 (>= 1 with --quick); got ${String(values.runs)}\n`,
    );
    return 2;
  }
  if (!Number.isSafeInteger(warmup) || warmup < 0) {
    process.stderr.write(`sluice-lab: --warmup must be an integer >= 0; got ${String(values.warmup)}\n`);
    return 2;
  }
  const flags: Record<string, string | boolean> = {};
  for (const [key, value] of Object.entries(values))
    if (value !== undefined) flags[key] = value as string | boolean;
  const context: RunContext = {
    quick,
    full: values.full === true,
    runs,
    warmup,
    only: typeof values.only === 'string' ? values.only.split(',').filter(Boolean) : [],
    flags,
    progress: (message) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`),
  };
  const chosen = name === 'all' ? experiments : experiments.filter((experiment) => experiment.name === name);
  if (chosen.length === 0) {
    process.stderr.write(`sluice-lab: unknown experiment "${name}"\n\nExperiments:\n${listing()}\n`);
    return 2;
  }
  const jsonFile = typeof values.json === 'string' && chosen.length === 1 ? values.json : undefined;
  const release = await acquireLabLock(context.progress);
  try {
    for (const experiment of chosen) await runExperiment(experiment, context, jsonFile);
  } finally {
    release();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `sluice-lab: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
