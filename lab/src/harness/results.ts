import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ExperimentResult } from './types.js';

/** `lab-results/` under the current directory, or `SLUICE_LAB_RESULTS`. Git-ignored. */
export function resultsDir(): string {
  return process.env.SLUICE_LAB_RESULTS ?? path.resolve('lab-results');
}

export function defaultResultPath(experiment: string): string {
  return path.join(resultsDir(), `${experiment}.json`);
}

export function writeResult(result: ExperimentResult, file = defaultResultPath(result.experiment)): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

export function readResult(file: string): ExperimentResult {
  return JSON.parse(readFileSync(file, 'utf8')) as ExperimentResult;
}
