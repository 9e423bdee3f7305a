import type { Metrics, Row } from './types.js';

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Nearest-rank percentile, `p` in [0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** The median of each metric that appears in any run. */
export function medianOf(runs: readonly Metrics[]): Metrics {
  const names = new Set(runs.flatMap((run) => Object.keys(run)));
  const result: Metrics = {};
  for (const name of names) {
    const values = runs.map((run) => run[name]).filter((value): value is number => typeof value === 'number');
    result[name] = round(median(values));
  }
  return result;
}

export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const magnitude = Math.abs(value);
  const places = magnitude >= 100 ? 1 : magnitude >= 1 ? 2 : digits;
  const scale = 10 ** places;
  return Math.round(value * scale) / scale;
}

export function sameDims(a: Row['dims'], b: Row['dims']): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}

/** Adds `ratio` to every row that has a baseline row with the same dims in `rows`. */
export function addRatios(rows: Row[], baseline: string): void {
  for (const row of rows) {
    if (row.skipped !== undefined) continue;
    const base = rows.find(
      (other) => other.variant === baseline && !other.skipped && sameDims(other.dims, row.dims),
    );
    if (base === undefined) continue;
    const ratio: Metrics = {};
    for (const [name, value] of Object.entries(row.median)) {
      const baseValue = base.median[name];
      if (baseValue !== undefined && baseValue !== 0) ratio[name] = round(value / baseValue);
    }
    row.ratio = ratio;
  }
}

export function makeRow(variant: string, dims: Row['dims'], runs: Metrics[]): Row {
  return { variant, dims, runs, median: medianOf(runs) };
}
