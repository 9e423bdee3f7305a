/**
 * The `sync` strategy: `readSync` into one pooled slab per window, inside `next()`. For small
 * ranges (the planner uses it up to 256 KiB: one call, about 30 us) a trip through the threadpool
 * costs more than the copy itself. It blocks the event loop for the duration of each window's copy.
 */
import fs from 'node:fs';
import type { BufferPool } from '../../buffers/index.js';
import { FileGrewError, FileShrankError } from '../../errors.js';
import { fromOsError } from '../os-errors.js';
import { readFullySync } from '../read-fully.js';
import type { SourceJob, WindowSource } from '../types.js';

export class SyncSource implements WindowSource {
  readonly #job: SourceJob;
  readonly #pool: BufferPool;
  #slab: Buffer | undefined;
  #nextOffset: number;

  constructor(job: SourceJob) {
    this.#job = job;
    this.#pool = job.pool;
    this.#nextOffset = job.start;
  }

  async next(): Promise<Buffer | null> {
    const { endExclusive, windowSize } = this.#job;
    // Under debug, hand the old window back so the pool detaches and poisons it.
    // Fair turns: someone waits for the pool, so the slab goes to them and we queue for another.
    if (this.#pool.debug || (this.#job.fairTurns && this.#pool.waiting > 0)) this.#releaseSlab();
    if (this.#nextOffset >= endExclusive) {
      this.#releaseSlab();
      if (this.#job.checkGrowth) this.#checkGrowth();
      return null;
    }
    this.#slab ??= this.#pool.tryAcquire() ?? (await this.#pool.acquire(this.#job.signal));
    const position = this.#nextOffset;
    const length = Math.min(windowSize, endExclusive - position);
    let filled: number;
    try {
      filled = readFullySync(this.#job.fd, this.#slab, 0, length, position);
    } catch (error) {
      throw fromOsError(this.#job.path, error);
    }
    if (filled < length) throw new FileShrankError(this.#job.path, endExclusive, position + filled);
    this.#nextOffset += length;
    return this.#slab.subarray(0, length);
  }

  async stop(): Promise<void> {
    this.#releaseSlab();
  }

  #releaseSlab(): void {
    if (this.#slab !== undefined) this.#pool.release(this.#slab);
    this.#slab = undefined;
  }

  #checkGrowth(): void {
    const probe = Buffer.allocUnsafe(1);
    let bytes: number;
    try {
      bytes = fs.readSync(this.#job.fd, probe, 0, 1, this.#job.endExclusive);
    } catch (error) {
      throw fromOsError(this.#job.path, error);
    }
    if (bytes > 0) throw new FileGrewError(this.#job.path, this.#job.endExclusive);
  }
}
