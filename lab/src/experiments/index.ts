import type { Experiment } from '../harness/types.js';
import { coalesce } from './coalesce.js';
import { fileread } from './fileread.js';
import { offload } from './offload.js';
import { rtt } from './rtt.js';
import { scan } from './scan.js';
import { serve } from './serve.js';
import { tasks } from './tasks.js';
import { wal } from './wal.js';
import { writeExperiment } from './write.js';
import { zip } from './zip.js';

/** Every experiment, in the order `sluice-lab all` runs them. */
export const experiments: readonly Experiment[] = [
  fileread,
  scan,
  zip,
  serve,
  writeExperiment,
  wal,
  offload,
  rtt,
  coalesce,
  tasks,
];
