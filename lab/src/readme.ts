/**
 * `sluice-lab readme`: regenerates the results tables in README.md (and docs/lab.md) from the
 * JSON in lab-results/, between markers `<!-- lab:NAME -->` and `<!-- /lab:NAME -->`. Tables are
 * never typed by hand (pino's generate-benchmark-doc does the same).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { experiments } from './experiments/index.js';
import { defaultResultPath, readResult } from './harness/results.js';
import { formatMarkdown } from './harness/table.js';

export function renderBlock(name: string): string | undefined {
  const experiment = experiments.find((candidate) => candidate.name === name);
  const file = defaultResultPath(name);
  if (experiment === undefined || !existsSync(file)) return undefined;
  const result = readResult(file);
  const { env } = result;
  const runs = Math.min(...result.rows.filter((row) => !row.skipped).map((row) => row.runs.length));
  return [
    formatMarkdown(experiment, result),
    '',
    `Medians of ${runs} runs, ${env.date.slice(0, 10)}, Node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), ` +
      `${env.kernel}. Ratio: ${experiment.headline.metric} relative to \`${experiment.baseline}\` in the same run. ` +
      `Reproduce: \`npx sluice-lab ${name}\`.`,
  ].join('\n');
}

/** Replaces every `<!-- lab:NAME -->...<!-- /lab:NAME -->` block whose results exist. */
export function updateMarkdown(text: string): { text: string; updated: string[] } {
  const updated: string[] = [];
  const replaced = text.replace(/<!-- lab:([a-z-]+) -->[\s\S]*?<!-- \/lab:\1 -->/g, (block, name: string) => {
    const rendered = renderBlock(name);
    if (rendered === undefined) return block;
    updated.push(name);
    return `<!-- lab:${name} -->\n${rendered}\n<!-- /lab:${name} -->`;
  });
  return { text: replaced, updated };
}

export function updateFiles(files: readonly string[]): string[] {
  const done: string[] = [];
  for (const file of files) {
    if (!existsSync(file)) continue;
    const { text, updated } = updateMarkdown(readFileSync(file, 'utf8'));
    writeFileSync(file, text);
    done.push(...updated.map((name) => `${file}: ${name}`));
  }
  return done;
}
