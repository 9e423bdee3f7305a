import type { Experiment } from '../harness/types.js';

/** Every experiment, in the order `sluice-lab all` runs them. */
export const experiments: readonly Experiment[] = [];
