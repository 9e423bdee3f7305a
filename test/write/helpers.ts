import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SluiceError } from '../../src/errors.js';
import type { AsyncWriteSink, SyncWriteSink } from '../../src/write/index.js';

export const codeOf = (code: string) => (error: unknown) =>
  error instanceof SluiceError && error.code === code;

/** A temp dir removed after the test. */
export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-write-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A deterministic pseudo-random generator (mulberry32) for sizes inside a sink. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ChaosOptions {
  seed: number;
  /** Probability that a call takes only part of what it was given. */
  partial?: number;
  /** Probability that a call fails with EAGAIN (nothing taken). */
  eagain?: number;
}

/** A sink that keeps what it is given, taking random prefixes and failing with EAGAIN at random. */
export class ChaosSink {
  readonly received: Buffer[] = [];
  calls = 0;
  maxChunks = 0;
  inFlight = 0;
  maxInFlight = 0;
  closed = false;
  readonly #random: () => number;
  readonly #options: ChaosOptions;

  constructor(options: ChaosOptions) {
    this.#options = options;
    this.#random = prng(options.seed);
  }

  get bytes(): Buffer {
    return Buffer.concat(this.received);
  }

  /** Takes a prefix of `chunks` (or throws EAGAIN); returns its length. */
  take(chunks: readonly Buffer[]): number {
    this.calls++;
    this.maxChunks = Math.max(this.maxChunks, chunks.length);
    if (chunks.length === 0 || chunks.some((chunk) => chunk.length === 0))
      throw new Error('empty chunk given');
    if (this.#random() < (this.#options.eagain ?? 0)) {
      throw Object.assign(new Error('EAGAIN: resource temporarily unavailable, write'), { code: 'EAGAIN' });
    }
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    let budget = this.#random() < (this.#options.partial ?? 0) ? Math.floor(this.#random() * total) : total;
    const taken = budget;
    for (const chunk of chunks) {
      if (budget === 0) break;
      const part = chunk.subarray(0, Math.min(budget, chunk.length));
      this.received.push(Buffer.from(part)); // a copy: the writer reuses its chunks
      budget -= part.length;
    }
    return taken;
  }

  sync(): SyncWriteSink {
    return {
      kind: 'sync',
      target: 'chaos (sync)',
      writevSync: (chunks) => this.take(chunks),
      close: async () => {
        this.closed = true;
      },
    };
  }

  async(): AsyncWriteSink {
    return {
      kind: 'async',
      target: 'chaos (async)',
      writev: (chunks, callback) => {
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        let result: number;
        try {
          result = this.take(chunks);
        } catch (error) {
          setImmediate(() => {
            this.inFlight--;
            callback(error as Error, 0);
          });
          return;
        }
        setImmediate(() => {
          this.inFlight--;
          callback(null, result);
        });
      },
      close: async () => {
        this.closed = true;
      },
    };
  }
}

/** An async sink whose writes complete only when the test calls `complete()`: backpressure under control. */
export class GatedSink implements AsyncWriteSink {
  readonly kind = 'async';
  readonly target = 'gated';
  readonly received: Buffer[] = [];
  #pending: { chunks: readonly Buffer[]; callback: (error: Error | null, bytes: number) => void }[] = [];

  writev(chunks: readonly Buffer[], callback: (error: Error | null, bytes: number) => void): void {
    this.#pending.push({ chunks, callback });
  }

  get waiting(): number {
    return this.#pending.length;
  }

  /** Completes the in-flight write (with `error`, or taking everything). */
  complete(error?: Error): void {
    const write = this.#pending.shift();
    if (write === undefined) throw new Error('no write in flight');
    if (error !== undefined) {
      write.callback(error, 0);
      return;
    }
    let total = 0;
    for (const chunk of write.chunks) {
      this.received.push(Buffer.from(chunk));
      total += chunk.length;
    }
    write.callback(null, total);
  }

  async close(): Promise<void> {}
}

export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
