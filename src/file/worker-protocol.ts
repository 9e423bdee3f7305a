/**
 * The shared-memory protocol between a worker reader (main thread) and a read worker thread.
 *
 * `control` is an Int32Array over a SharedArrayBuffer with these named slots:
 * - PRODUCED: windows the worker has filled (a count, never wraps in practice: 2^31 windows).
 * - CONSUMED: windows the consumer has given back. The worker fills window `n` into ring slot
 *   `n % slots` only when `n - CONSUMED < slots`, so a slot the consumer holds is never written.
 * - STATE: RUNNING until the worker stops; then DONE or FAILED (details follow in a `done` message).
 *   The worker stores PRODUCED before STATE, so a reader that sees STATE != RUNNING and then reads
 *   PRODUCED sees every window.
 * - CANCEL: set to 1 by the reader to stop the worker early.
 * - LENGTH + i: bytes in ring slot i.
 * Wake-ups: the worker notifies PRODUCED after each window and on stopping; the reader notifies
 * CONSUMED after each release and on cancelling (thread-stream `lib/indexes.js` names its slots alike).
 */
export const PRODUCED = 0;
export const CONSUMED = 1;
export const STATE = 2;
export const CANCEL = 3;
export const LENGTH = 4;
export const MAX_SLOTS = 64;
export const CONTROL_INTS = LENGTH + MAX_SLOTS;

export const RUNNING = 0;
export const DONE = 1;
export const FAILED = 2;

export interface JobMessage {
  type: 'job';
  id: number;
  fd: number;
  start: number;
  endExclusive: number;
  windowSize: number;
  slots: number;
  checkGrowth: boolean;
  ring: SharedArrayBuffer;
  control: SharedArrayBuffer;
}

export type JobFailure =
  | { kind: 'shrank'; offset: number }
  | { kind: 'grew' }
  | {
      kind: 'os';
      code: string | undefined;
      message: string;
      errno: number | undefined;
      syscall: string | undefined;
    };

export interface DoneMessage {
  type: 'done';
  id: number;
  failure?: JobFailure;
}
