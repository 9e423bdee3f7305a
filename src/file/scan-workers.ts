/**
 * The worker threads of one `scanTree` call, and the slabs they fill. Bounded: `count` threads,
 * two batches out on each (for visits on the main thread, each batch holds a slab: one being filled
 * while the main thread visits the other's files).
 */
import { Worker } from 'node:worker_threads';
import { ReadWorkerError } from '../errors.js';
import type { PartRequest, ReadRequest, ScanWorkerData, VisitRequest, WorkerReply } from './scan-protocol.js';

/** Bytes per slab: a batch of small files (the kernel's median is ~6 KiB) fits many times over. */
export const SCAN_SLAB_BYTES = 4 * 1024 * 1024;
/** Files per batch: one message per 128 files amortizes the hand-off (~20-50 us) to under 1 us a file. */
export const SCAN_BATCH_FILES = 128;
/** Batches out on one thread at once (so also its slabs, when the main thread visits). */
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
  readonly #data: ScanWorkerData;
  readonly #onReply: (reply: WorkerReply) => void;
  readonly #onFailure: (error: Error) => void;
  #nextId = 0;
  #inFlight = 0;
  #terminated = false;

  /**
   * `visitor` set: the visits run on the threads (no slabs); otherwise they read into slabs for
   * the main thread.
   */
  constructor(
    count: number,
    root: string,
    visitor: ScanWorkerData['visitor'],
    onReply: (reply: WorkerReply) => void,
    onFailure: (error: Error) => void,
  ) {
    this.count = count;
    this.#onReply = onReply;
    this.#onFailure = onFailure;
    if (visitor === undefined) {
      for (let index = 0; index < count * SLABS_PER_WORKER; index++) {
        this.#slabs.push(new SharedArrayBuffer(SCAN_SLAB_BYTES));
        this.#free.push(index);
      }
    }
    this.#data = {
      slabs: this.#slabs,
      stop: new SharedArrayBuffer(4),
      root,
      ...(visitor === undefined ? {} : { visitor }),
    };
  }

  /** Batches sent and not yet back. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether a batch can be sent now (a thread with room and, when visiting here, a free slab). */
  get ready(): boolean {
    if (this.#terminated) return false;
    if (this.#data.visitor === undefined && this.#free.length === 0) return false;
    return this.#pick() !== undefined;
  }

  /** Sends a batch to read into a slab; returns its id. Call only when `ready`. */
  sendRead(paths: string[], maxFileBytes: number, overflowBytes: number): number {
    const slab = this.#free.pop()!;
    const id = this.#nextId++;
    this.#post({ kind: 'read', id, paths, maxFileBytes, slab, overflowBytes } satisfies ReadRequest);
    return id;
  }

  /** Sends a batch (its paths NUL-separated) to read and visit on a thread; returns its id. Call only when `ready`. */
  sendVisit(paths: string): number {
    const id = this.#nextId++;
    this.#post({ kind: 'visit', id, paths } satisfies VisitRequest);
    return id;
  }

  /** Sends one part of one file to read and visit on a thread (`scanFile`); returns its id. Call only when `ready`. */
  sendPart(part: Omit<PartRequest, 'kind' | 'id'>): number {
    const id = this.#nextId++;
    this.#post({ kind: 'part', id, ...part } satisfies PartRequest);
    return id;
  }

  #post(request: ReadRequest | VisitRequest | PartRequest): void {
    const thread = this.#pick()!;
    thread.outstanding++;
    this.#inFlight++;
    thread.worker.postMessage(request);
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

  /** Asks every thread to end its batch after the file at hand, or at its next window (the scan failed or was aborted). */
  stop(): void {
    Atomics.store(new Int32Array(this.#data.stop), 0, 1);
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
      workerData: this.#data,
    });
    const thread: Thread = { worker, outstanding: 0 };
    worker.on('message', (reply: WorkerReply) => {
      thread.outstanding--;
      this.#inFlight--;
      this.#onReply(reply);
    });
    // A thread that dies takes its batches with it: they will never come back.
    // Once only: 'exit' follows 'error'.
    let gone = false;
    const lost = (): void => {
      if (gone) return;
      gone = true;
      this.#inFlight -= thread.outstanding;
      thread.outstanding = SLABS_PER_WORKER; // never picked again
    };
    worker.on('error', (error) => {
      lost();
      this.#onFailure(new ReadWorkerError('a scan worker failed', error));
    });
    worker.on('exit', (code) => {
      if (this.#terminated || gone) return;
      lost();
      this.#onFailure(new ReadWorkerError(`a scan worker exited with code ${code}`));
    });
    this.#threads.push(thread);
    return thread;
  }
}
