/**
 * The short synchronous operation of `offload` (seed 002: RocksDB `db.put` of a 100-key batch, which
 * only touches the memtable): insert 100 keys with 1 KiB values into an in-memory table.
 */
export const KEYS_PER_BATCH = 100;

/** Slots of the Int32Array shared with the dedicated worker (offload-worker.ts, atomics mode). */
export const REQUEST = 0;
export const RESPONSE = 1;
export const BATCH = 2;
export const RESULT = 3;
/** A BATCH value that tells the worker to exit. */
export const STOP = -1;
const KEY_BYTES = 256;
const VALUE_BYTES = 1024;
/** The table is cleared past this many entries so memory stays flat over a long run. */
const MAX_ENTRIES = 100_000;

export class MemTable {
  readonly #entries = new Map<string, Uint8Array>();
  readonly #keyPrefixes: string[];
  readonly #values: Uint8Array[];

  constructor() {
    this.#keyPrefixes = Array.from({ length: KEYS_PER_BATCH }, (_, index) =>
      `key-${index}-`.padEnd(KEY_BYTES - 12, 'k'),
    );
    this.#values = Array.from({ length: KEYS_PER_BATCH }, (_, index) =>
      new Uint8Array(VALUE_BYTES).fill(index),
    );
  }

  /** Inserts batch `batch` (100 keys); returns the table size, so the work cannot be optimized away. */
  insertBatch(batch: number): number {
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    const suffix = String(batch).padStart(12, '0');
    for (let index = 0; index < KEYS_PER_BATCH; index++) {
      this.#entries.set(this.#keyPrefixes[index]! + suffix, this.#values[index]!);
    }
    return this.#entries.size;
  }
}
