import type { Experiment } from '../harness/types.js';
import { fileread } from './fileread.js';
import { scan } from './scan.js';

/** Every experiment, in the order `sluice-lab all` runs them. */
export const experiments: readonly Experiment[] = [fileread, scan];
