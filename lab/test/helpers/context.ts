import type { RunContext } from '../../src/harness/types.js';

/** The context of a `--quick --runs 1 --warmup 0` smoke run, with silent progress. */
export function smokeContext(overrides: Partial<RunContext> = {}): RunContext {
  return {
    quick: true,
    full: false,
    runs: 1,
    warmup: 0,
    only: [],
    flags: {},
    progress: () => {},
    ...overrides,
  };
}
