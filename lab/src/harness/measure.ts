import { makeRow } from './stats.js';
import type { Metrics, Row, RunContext } from './types.js';

export interface Case {
  variant: string;
  dims?: Row['dims'];
  /** One measured run; usually `runInChild(...)` so each run is an isolated process. */
  run(): Promise<Metrics>;
  /** Set instead of `run` figures when the case cannot run here (a peer not installed, ...). */
  skipped?: string;
}

/**
 * Runs every case `context.warmup` times unmeasured, then `context.runs` rounds in which each case
 * runs once. Interleaving the cases (rather than all runs of one, then the next) spreads the noise
 * of a shared machine evenly over the variants being compared.
 */
export async function measureInterleaved(cases: readonly Case[], context: RunContext): Promise<Row[]> {
  const runnable = cases.filter((entry) => entry.skipped === undefined);
  const label = (entry: Case): string =>
    [entry.variant, ...Object.entries(entry.dims ?? {}).map(([key, value]) => `${key}=${value}`)].join(' ');
  for (let round = 0; round < context.warmup; round++) {
    for (const entry of runnable) {
      context.progress(`warm-up ${round + 1}/${context.warmup}: ${label(entry)}`);
      await entry.run();
    }
  }
  const runs = new Map<Case, Metrics[]>(runnable.map((entry) => [entry, []]));
  for (let round = 0; round < context.runs; round++) {
    for (const entry of runnable) {
      context.progress(`run ${round + 1}/${context.runs}: ${label(entry)}`);
      runs.get(entry)!.push(await entry.run());
    }
  }
  return cases.map((entry) => {
    if (entry.skipped !== undefined) {
      return { variant: entry.variant, dims: entry.dims ?? {}, runs: [], median: {}, skipped: entry.skipped };
    }
    return makeRow(entry.variant, entry.dims ?? {}, runs.get(entry)!);
  });
}

/** Whether a variant is selected by `--only`. */
export function selected(context: RunContext, variant: string): boolean {
  return context.only.length === 0 || context.only.includes(variant);
}
