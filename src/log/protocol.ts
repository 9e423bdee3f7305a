/** What the main thread hands the writer thread, and the messages the writer sends back. */

export interface WorkerData {
  dir: string;
  /** CONTROL_SLOTS x BigInt64 (see ring.ts). */
  control: SharedArrayBuffer;
  /** The record ring; its size is `maxBytesInFlight`. */
  ring: SharedArrayBuffer;
  /** The segment recovery found to continue, or undefined to start one at `nextLsn`. */
  active:
    | { path: string; firstLsn: number; writeOffset: number; segmentSize: number; maxBatchBytes: number }
    | undefined;
  nextLsn: number;
  segmentSize: number;
  maxBatchBytes: number;
  preallocate: boolean;
  faults: FaultInjection;
  /** Lab only: where the writer stamps its cycle steps (see trace.ts). */
  trace: SharedArrayBuffer | undefined;
}

/** Test hooks: make the nth call fail as the OS would (1-based counts). */
export interface FaultInjection {
  /** The nth fdatasync (batches and segment headers) fails with EIO. */
  failFdatasyncAt?: number;
  /** The nth batch write writes part of its bytes, then fails with ENOSPC. */
  noSpaceAtBatch?: number;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'nospace'; message: string }
  | { type: 'failed'; detail: string; message: string; code: string }
  | { type: 'closed' };
