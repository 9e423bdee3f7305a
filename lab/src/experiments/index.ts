import type { Experiment } from '../harness/types.js';
import { coalesce } from './coalesce.js';
import { fileread } from './fileread.js';
import { rtt } from './rtt.js';

/** Every experiment, in the order `sluice-lab all` runs them. */
export const experiments: readonly Experiment[] = [fileread, rtt, coalesce];
