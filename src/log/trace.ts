/**
 * Cycle tracing, for the lab only (a test hook, never a public option): each thread stamps the steps
 * of the group-commit cycle into a Float64Array of its own, as [time ns (process.hrtime, CLOCK_MONOTONIC,
 * the same clock in every thread), event, value] triples after a count in slot 0. A full log drops
 * later stamps. Off by default: then every stamp site is one `undefined` check.
 */
export const TraceEvent = {
  /** Writer: about to block in Atomics.wait, nothing to write. */
  WRITER_IDLE: 1,
  /** Writer: back from Atomics.wait (value: bytes in the ring). */
  WRITER_WOKE: 2,
  /** Writer: found records (value: bytes in the ring) and starts a batch. */
  BATCH_START: 3,
  /** Writer: gathering over (value: bytes in the ring). */
  GATHERED: 8,
  /** Writer: a preallocation step starts (value: bytes preallocated so far). */
  PREALLOCATE: 9,
  /** Writer: batch assembled (value: records). */
  BATCH_TAKEN: 4,
  /** Writer: writev returned (value: bytes). */
  WRITTEN: 5,
  /** Writer: fdatasync returned. */
  SYNCED: 6,
  /** Writer: DURABLE_LSN published and notified (value: LSN). */
  PUBLISHED: 7,
  /** Main: an append entered the ring (value: its last LSN). */
  APPEND: 10,
  /** Main: the acknowledgement callback started (value: durable LSN). */
  ACK_START: 11,
  /** Main: the acknowledgement callback ended (value: appends resolved). */
  ACK_END: 12,
} as const;

export class TraceLog {
  readonly #slots: Float64Array;

  constructor(buffer: SharedArrayBuffer | ArrayBuffer) {
    this.#slots = new Float64Array(buffer);
  }

  stamp(event: number, value: number): void {
    const slots = this.#slots;
    const index = 1 + slots[0]! * 3;
    if (index + 3 > slots.length) return;
    slots[index] = Number(process.hrtime.bigint());
    slots[index + 1] = event;
    slots[index + 2] = value;
    slots[0] = slots[0]! + 1;
  }
}
