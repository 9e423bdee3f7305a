import type { Experiment } from '../harness/types.js';
import { fileread } from './fileread.js';
import { offload } from './offload.js';
import { wal } from './wal.js';

/** Every experiment, in the order `sluice-lab all` runs them. */
export const experiments: readonly Experiment[] = [fileread, wal, offload];
