/**
 * The worker threads of one `scanTree` call, and the slabs they fill. Bounded: `count` threads,
 * two slabs each (one being filled while the main thread visits the other's files).
 */
import { Worker } from 'node:worker_threads';
import { ReadWorkerError } from '../errors.js';
import type { BatchOutcome, BatchRequest } from './scan-protocol.js';

/** Bytes per slab: a batch of small files (the kernel's median is ~6 KiB) fits many times over. */
export const SCAN_SLAB_BYTES = 4 * 1024 * 1024;
/** Files per batch: one message per 32 files amortizes the hand-off (~20-50 us) to ~1 us a file. */
export const SCAN_BATCH_FILES = 128;
const SLABS_PER_WORKER = 2;

interface Thread {
  worker: Worker;
  outstanding: number;
}

export class ScanWorkers {
  readonly count: number;
  readonly #threads: Thread[] = [];
  /** Shared with every thread; a slab index is either free here or lent to exactly one batch. */
  readonly #slabs: SharedArrayBuffer[] = [];
  readonly #free: number[] = [];
  readonly #onOutcome: (outcome: BatchOutcome) => void;
  readonly #onFailure: (error: Error) => void;
  #nextId = 0;
  #inFlight = 0;
  #terminated = false;

  constructor(count: number, onOutcome: (outcome: BatchOutcome) => void, onFailure: (error: Error) => void) {
    this.count = count;
    this.#onOutcome = onOutcome;
    this.#onFailure = onFailure;
    for (let index = 0; index < count * SLABS_PER_WORKER; index++) {
      this.#slabs.push(new SharedArrayBuffer(SCAN_SLAB_BYTES));
      this.#free.push(index);
    }
  }

  /** Batches sent and not yet back. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether a batch can be sent now (a free slab and a thread with room). */
  get ready(): boolean {
    return !this.#terminated && this.#free.length > 0 && this.#pick() !== undefined;
  }

  /** Sends a batch; returns its id. Call only when `ready`. */
  send(paths: string[], maxFileBytes: number, overflowBytes: number): number {
    const thread = this.#pick()!;
    const slab = this.#free.pop()!;
    const id = this.#nextId++;
    const request: BatchRequest = { id, paths, maxFileBytes, slab, overflowBytes };
    thread.outstanding++;
    this.#inFlight++;
    thread.worker.postMessage(request);
    return id;
  }

  /** The bytes of a file read by a worker: a view of slab `slab`, or of the buffer it read into of its own. */
  window(slab: number, outcome: { offset: number; size: number; own?: ArrayBuffer }): Buffer {
    return Buffer.from(outcome.own ?? this.#slabs[slab]!, outcome.offset, outcome.size);
  }

  /** Returns a slab once every window in it is released. */
  release(slab: number): void {
    if (this.#free.includes(slab)) throw new Error(`scanTree bug: slab ${slab} released twice`);
    this.#free.push(slab);
  }

  async terminate(): Promise<void> {
    this.#terminated = true;
    await Promise.all(this.#threads.map((thread) => thread.worker.terminate()));
  }

  #pick(): Thread | undefined {
    let best: Thread | undefined;
    for (const thread of this.#threads) {
      if (
        thread.outstanding < SLABS_PER_WORKER &&
        (best === undefined || thread.outstanding < best.outstanding)
      ) {
        best = thread;
      }
    }
    if ((best === undefined || best.outstanding > 0) && this.#threads.length < this.count)
      return this.#spawn();
    return best;
  }

  #spawn(): Thread {
    const worker = new Worker(new URL('./scan-worker.js', import.meta.url), {
      name: 'sluice scan worker',
      workerData: { slabs: this.#slabs },
    });
    const thread: Thread = { worker, outstanding: 0 };
    worker.on('message', (outcome: BatchOutcome) => {
      thread.outstanding--;
      this.#inFlight--;
      this.#onOutcome(outcome);
    });
    // A thread that dies takes its batches with it: they will never come back.
    const lost = (): void => {
      this.#inFlight -= thread.outstanding;
      thread.outstanding = SLABS_PER_WORKER; // never picked again
    };
    worker.on('error', (error) => {
      lost();
      this.#onFailure(new ReadWorkerError('a scan worker failed', error));
    });
    worker.on('exit', (code) => {
      if (this.#terminated) return;
      lost();
      this.#onFailure(new ReadWorkerError(`a scan worker exited with code ${code}`));
    });
    this.#threads.push(thread);
    return thread;
  }
}
