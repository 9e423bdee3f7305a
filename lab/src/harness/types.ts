/** The JSON every experiment writes (DESIGN.md "The lab"); outside checks read this shape. */
export interface ExperimentResult {
  experiment: string;
  params: Record<string, unknown>;
  env: Environment;
  rows: Row[];
  /** Findings the table cannot show: peers missing, why a figure differs from the seed, ... */
  notes: string[];
}

export interface Environment {
  node: string;
  cpus: number;
  cpuModel: string;
  kernel: string;
  memoryGiB: number;
  date: string;
}

/** Metric name -> value, e.g. `{ ms: 80.1, mbPerS: 8300 }`. */
export type Metrics = Record<string, number>;

export interface Row {
  variant: string;
  /** What else distinguishes the row: `{ pass: 'count' }`, `{ clients: 1000 }`, ... */
  dims: Record<string, string | number>;
  /** One entry per measured run (warm-up excluded). */
  runs: Metrics[];
  /** The median of each metric over `runs`. */
  median: Metrics;
  /** Each metric's median divided by the baseline row's (same dims, same run). */
  ratio?: Metrics;
  /** Set instead of figures when the variant could not run (a peer not installed, ...). */
  skipped?: string;
}

export interface Experiment {
  name: string;
  /** The seed file this reproduces. */
  seed: string;
  title: string;
  /** A paragraph: what it reproduces and how. */
  description: string;
  variants: readonly string[];
  baseline: string;
  metrics: readonly string[];
  /** The metric the table's ratio column shows, and whether more of it is better. */
  headline: { metric: string; higherIsBetter: boolean };
  run(context: RunContext): Promise<ExperimentResult>;
}

export interface RunContext {
  /** A small, fast configuration for CI smoke runs. */
  quick: boolean;
  /** The seed's whole grid, where the default is smaller. */
  full: boolean;
  /** Measured runs per variant (>= 5 unless quick). */
  runs: number;
  /** Unmeasured runs before them. */
  warmup: number;
  /** Restrict to these variants (all when empty). */
  only: readonly string[];
  /** Experiment-specific flags from the command line (`--crash 1000` -> `{ crash: '1000' }`). */
  flags: Record<string, string | boolean>;
  progress: (message: string) => void;
}
