/**
 * The writer thread's side of the hand-off (ring.ts): waiting for records the way concurrent
 * appenders produce them, and filling in their CRC-32C, which the main thread leaves to this thread.
 */
import { framedSize } from './format.js';
import { checksumRecordInRing, readRecordLength, Slot, Waiting } from './ring.js';

/**
 * Group commit gathering. When the last batch held more than one record, appenders are running
 * concurrently, and the main thread usually appends a burst of records (one per appender whose
 * previous record was just acknowledged) in one event-loop turn. Writing as soon as the first of them
 * lands would split the burst over two fdatasyncs; so wait until the main thread seals its turn
 * (SEALED catches up with WRITTEN; lmdb-js ends its write transactions at the same point, with
 * setImmediate), a batch's worth is there, the ring stopped growing for GATHER_STEP_MS (the main
 * thread is busy with something else), or GATHER_MAX_MS passed (PostgreSQL's commit_delay, made
 * adaptive).
 */
const GATHER_STEP_MS = 0.05;
const GATHER_MAX_MS = 0.5;

export class BatchGatherer {
  readonly #control: BigInt64Array;
  readonly #ring: Uint8Array;
  readonly #ringView: DataView;
  readonly #maxBatchBytes: number;
  /** Records in the ring from CONSUMED up to here have their CRC-32C filled in. */
  #checksummed: number;

  constructor(control: BigInt64Array, ring: Uint8Array, maxBatchBytes: number, consumed: number) {
    this.#control = control;
    this.#ring = ring;
    this.#ringView = new DataView(ring.buffer, ring.byteOffset, ring.byteLength);
    this.#maxBatchBytes = maxBatchBytes;
    this.#checksummed = consumed;
  }

  /** After the main thread dropped what was in flight (ENOSPC): nothing past `consumed` is checksummed. */
  restartAt(consumed: number): void {
    this.#checksummed = consumed;
  }

  /** Fills the CRC-32C of every record the ring holds up to running position `written`. */
  checksumUpTo(written: number): void {
    while (this.#checksummed < written) {
      const length = readRecordLength(this.#ringView, this.#checksummed);
      checksumRecordInRing(this.#ring, this.#ringView, this.#checksummed, length);
      this.#checksummed += framedSize(length);
    }
  }

  /**
   * Waits for the burst to end (see above), checksumming the records as it wakes; returns the
   * WRITTEN it saw last.
   */
  gather(consumed: number): number {
    const control = this.#control;
    const deadline = performance.now() + GATHER_MAX_MS;
    let seen = -1;
    for (;;) {
      const wake = Atomics.load(control, Slot.WAKE);
      Atomics.store(control, Slot.WAITING, Waiting.SEAL);
      // Looked at after the flag is up: a seal stored before it is seen here, one after it wakes us.
      // SEALED before WRITTEN: equal means nothing was appended since the seal, so the batch takes
      // the whole turn (the other order could pair a new seal with an old, shorter WRITTEN).
      const sealed = Number(Atomics.load(control, Slot.SEALED));
      const written = Number(Atomics.load(control, Slot.WRITTEN));
      this.checksumUpTo(written);
      const pending = written - consumed;
      if (
        sealed >= written ||
        pending >= this.#maxBatchBytes ||
        pending === seen ||
        performance.now() >= deadline
      ) {
        Atomics.store(control, Slot.WAITING, Waiting.NOTHING);
        return written;
      }
      seen = pending;
      Atomics.wait(control, Slot.WAKE, wake, GATHER_STEP_MS);
    }
  }

  /**
   * After a batch of several records, with the ring empty: the appenders are due back in one burst,
   * so block until the main thread seals that turn (or a batch's worth is there) instead of waking
   * for its first record, which would cost the main thread a futex call in the middle of the burst
   * and this thread a wake-up for nothing; at most GATHER_MAX_MS, then the caller waits for any
   * record. `wake`: WAKE as loaded before the caller last looked at the ring.
   */
  waitForBurst(consumed: number, wake: bigint): void {
    const control = this.#control;
    Atomics.store(control, Slot.WAITING, Waiting.SEAL);
    if (Number(Atomics.load(control, Slot.WRITTEN)) === consumed)
      Atomics.wait(control, Slot.WAKE, wake, GATHER_MAX_MS);
    Atomics.store(control, Slot.WAITING, Waiting.NOTHING);
  }
}
