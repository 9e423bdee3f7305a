/**
 * How many positional reads one threadpool reader keeps in flight, adapted to its consumer.
 *
 * Rule (one step per window handed out): a consumer whose next window was already read is the
 * bottleneck, so the cap drops by one: every read thread running beside it takes a share of its
 * core, and reads in flight together all finish late since they split the other core. A consumer
 * that has to wait for its window gets one more read in flight: the reads are the bottleneck.
 * The cap stays within [1, readAhead].
 *
 * Measured (2 cores, the lab's 636 MiB cached file, CRC-32 of every window on the main thread,
 * 7 interleaved runs): median 57.7 ms with readAhead reads always in flight, 48.7 ms with this cap
 * (readSync loop: 67.8 ms); counting bytes only: 22.2 vs 22.6 ms, the same.
 */
export class InFlightCap {
  readonly #max: number;
  #cap: number;

  constructor(readAhead: number) {
    this.#max = Math.max(1, readAhead);
    this.#cap = this.#max;
  }

  /** Reads allowed in flight right now. */
  get value(): number {
    return this.#cap;
  }

  /** The consumer takes its next window; `ready` says whether it had already been read. */
  onWindowTaken(ready: boolean): void {
    this.#cap = ready ? Math.max(1, this.#cap - 1) : Math.min(this.#max, this.#cap + 1);
  }
}
