/**
 * The `worker` strategy: a dedicated thread reads the range synchronously into a SharedArrayBuffer
 * ring of `readAhead + 1` windows; the main thread takes them over with Atomics (protocol in
 * `../worker-protocol.ts`). The threadpool stays free for everything else, and the copy runs on
 * another core while the consumer works on the previous window.
 *
 * Read workers are long-lived and shared (at most MAX_READ_WORKERS): a reader leases one for its
 * whole read; a reader that finds all busy waits its turn. Idle workers are unref'd, so they never
 * keep the process alive.
 */
import { POISON_BYTE } from '../../buffers/index.js';
import { FileGrewError, FileShrankError, ReadWorkerError } from '../../errors.js';
import { debugEnabled } from '../../internal/debug.js';
import { JobThread, ThreadLeases } from '../../internal/job-threads.js';
import { waitAsync } from '../../internal/wait-async.js';
import { fromOsError } from '../os-errors.js';
import { load } from '../planner.js';
import type { SourceJob, WindowSource } from '../types.js';
import {
  CANCEL,
  CONSUMED,
  CONTROL_INTS,
  type DoneMessage,
  type JobFailure,
  type JobMessage,
  LENGTH,
  MAX_SLOTS,
  PRODUCED,
  RUNNING,
  STATE,
} from '../worker-protocol.js';

export const MAX_READ_WORKERS = 4;

/** A read thread, with the ring and control block it reuses for each job (held while leased). */
class ReadWorker extends JobThread<JobMessage, DoneMessage> {
  #ring: SharedArrayBuffer | undefined;
  readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * Int32Array.BYTES_PER_ELEMENT));

  ringOf(bytes: number): SharedArrayBuffer {
    if (this.#ring === undefined || this.#ring.byteLength < bytes) this.#ring = new SharedArrayBuffer(bytes);
    return this.#ring;
  }
}

const readWorkers = new ThreadLeases<ReadWorker>(
  'read worker',
  () => MAX_READ_WORKERS,
  (onFailed) => new ReadWorker(new URL('../read-worker.js', import.meta.url), 'sluice read worker', onFailed),
);

/** Takes an idle read worker, starts one under the cap, or waits (first come, first served). */
async function leaseWorker(signal: AbortSignal | undefined): Promise<ReadWorker> {
  const worker = await readWorkers.lease(signal);
  load.busyWorkers++;
  return worker;
}

function returnWorker(worker: ReadWorker): void {
  load.busyWorkers--;
  readWorkers.giveBack(worker);
}

/** Terminates idle read workers (they are started again on demand). */
export function terminateIdleReadWorkers(): Promise<void> {
  return readWorkers.terminateIdle();
}

let nextJobId = 1;

export class WorkerSource implements WindowSource {
  readonly #job: SourceJob;
  readonly #slots: number;
  #ring: SharedArrayBuffer | undefined;
  /** Until a worker is leased: a block that reads as RUNNING with nothing produced. */
  #control: Int32Array<ArrayBufferLike> = new Int32Array(CONTROL_INTS);
  #worker: ReadWorker | undefined;
  #done: Promise<DoneMessage | Error> | undefined;
  /** Windows handed to the consumer so far. */
  #taken = 0;
  #holding = false;
  /** The job's `done` has settled: the worker no longer touches the fd or the ring. */
  #settled = false;
  #stopped = false;
  /** Under SLUICE_DEBUG=1: the copy of the held window (see next()). */
  #debugCopy: Buffer | undefined;

  constructor(job: SourceJob) {
    this.#job = job;
    this.#slots = Math.min(MAX_SLOTS, Math.max(1, job.readAhead + 1));
  }

  async next(): Promise<Buffer | null> {
    this.#releaseHeld();
    if (this.#done === undefined) await this.#start();
    const control = this.#control;
    for (;;) {
      const produced = Atomics.load(control, PRODUCED);
      if (this.#taken < produced) {
        const slot = this.#taken % this.#slots;
        const length = Atomics.load(control, LENGTH + slot);
        this.#taken++;
        this.#holding = true;
        const window = Buffer.from(this.#ring!, slot * this.#job.windowSize, length);
        if (!debugEnabled()) return window;
        // Debug: hand out a copy that is detached on release (shared memory cannot be detached),
        // so a window used after the next next() fails loudly instead of showing newer bytes.
        const copy = Buffer.allocUnsafeSlow(length); // an ArrayBuffer of its own, so transferable
        window.copy(copy);
        this.#debugCopy = copy;
        return copy;
      }
      // Stopped, or the thread died without a word (then `#settled` is set and STATE still RUNNING).
      if (Atomics.load(control, STATE) !== RUNNING || this.#settled) {
        if (this.#taken < Atomics.load(control, PRODUCED)) continue;
        await this.#finish();
        return null;
      }
      await Promise.race([waitForChange(control, PRODUCED, produced), this.#done]);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#releaseHeld();
    // Never started, or finished and the worker (with its control block) already went back.
    if (this.#done === undefined || this.#worker === undefined) return;
    Atomics.store(this.#control, CANCEL, 1);
    Atomics.notify(this.#control, CONSUMED);
    await this.#done;
    this.#returnWorker();
  }

  async #start(): Promise<void> {
    const worker = await leaseWorker(this.#job.signal);
    if (this.#stopped) {
      // Closed while waiting for a worker: give it back unused.
      returnWorker(worker);
      throw new ReadWorkerError('the reader closed before a read worker was free');
    }
    this.#worker = worker;
    const { fd, start, endExclusive, windowSize, checkGrowth } = this.#job;
    this.#ring = worker.ringOf(this.#slots * windowSize);
    this.#control = worker.control;
    this.#control.fill(0); // PRODUCED = CONSUMED = CANCEL = 0, STATE = RUNNING
    this.#done = worker.run({
      type: 'job',
      id: nextJobId++,
      fd,
      start,
      endExclusive,
      windowSize,
      slots: this.#slots,
      checkGrowth,
      ring: this.#ring,
      control: worker.control.buffer as SharedArrayBuffer,
    });
    void this.#done.then(() => {
      this.#settled = true;
    });
  }

  /** The worker stopped: turn its report into our error, or nothing. */
  async #finish(): Promise<void> {
    const outcome = await this.#done!;
    this.#returnWorker();
    if (outcome instanceof Error) throw outcome;
    if (outcome.failure !== undefined) throw this.#errorOf(outcome.failure);
  }

  #returnWorker(): void {
    if (this.#worker === undefined) return;
    returnWorker(this.#worker);
    this.#worker = undefined;
  }

  #releaseHeld(): void {
    if (!this.#holding) return;
    this.#holding = false;
    if (this.#debugCopy !== undefined) {
      const copy = this.#debugCopy.buffer as ArrayBuffer;
      this.#debugCopy = undefined;
      new Uint8Array(structuredClone(copy, { transfer: [copy] })).fill(POISON_BYTE);
    }
    Atomics.add(this.#control, CONSUMED, 1);
    Atomics.notify(this.#control, CONSUMED);
  }

  #errorOf(failure: JobFailure): Error {
    const { path, endExclusive } = this.#job;
    switch (failure.kind) {
      case 'shrank':
        return new FileShrankError(path, endExclusive, failure.offset);
      case 'grew':
        return new FileGrewError(path, endExclusive);
      case 'os':
        return fromOsError(
          path,
          Object.assign(new Error(failure.message), {
            code: failure.code,
            errno: failure.errno,
            syscall: failure.syscall,
          }),
        );
    }
  }
}

/** Resolves once `control[index]` is no longer `value` (or soon after: callers re-check). */
function waitForChange(control: Int32Array, index: number, value: number): Promise<unknown> {
  if (waitAsync !== undefined) {
    const result = waitAsync(control, index, value);
    return result.async ? result.value : Promise.resolve();
  }
  // Fallback for runtimes without Atomics.waitAsync: poll each millisecond.
  return new Promise((resolve) => setTimeout(resolve, 1));
}
