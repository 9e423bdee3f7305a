/** Messages between `scanTree` and its worker threads (`scan-worker.ts`). */
import type { FileStats } from './types.js';

export interface BatchRequest {
  id: number;
  paths: string[];
  /** Files larger than this are deferred to a managed reader on the main thread. */
  maxFileBytes: number;
  /** Index of the shared slab (in the worker's `workerData`) to fill: the files' bytes, one after the other. */
  slab: number;
  /**
   * Bytes the batch may read into buffers of their own (transferred with the reply) when a file
   * does not fit in what is left of the slab; past this, such files are deferred too.
   */
  overflowBytes: number;
}

export type FileOutcome =
  /** In the slab at `offset`, or (when it did not fit) the whole of `own`, transferred. */
  | { kind: 'read'; offset: number; size: number; stats: FileStats; own?: ArrayBuffer }
  | { kind: 'defer'; size: number }
  | { kind: 'not-a-file'; directory: boolean }
  | { kind: 'shrank'; size: number; at: number }
  | { kind: 'error'; code: string; message: string };

export interface BatchOutcome {
  id: number;
  /** One per path, in order. */
  outcomes: FileOutcome[];
  slab: number;
}
