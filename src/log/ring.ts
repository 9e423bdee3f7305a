import { crc32c } from '@node-rs/crc32';
import { RECORD_HEADER_BYTES } from './format.js';

/**
 * The hand-off between the main thread and the log's writer thread: a SharedArrayBuffer ring of
 * framed records and a control block of named 64-bit slots read and written with Atomics.
 *
 * Ownership: the main thread alone advances WRITTEN (after copying whole records into the ring); the
 * writer alone advances CONSUMED and DURABLE_LSN (after the bytes are written and fdatasync'd). Both
 * are running byte totals, never wrapped, so `WRITTEN - CONSUMED` is the bytes in flight and the ring
 * is empty when they are equal. A record's bytes sit at `total % capacity` and may wrap around the end.
 * The only exception: after an ENOSPC the writer sets STATE to PAUSED and waits; the main thread then
 * drops what is in flight (CONSUMED = WRITTEN), rewinds its LSN and sets STATE back to RUNNING.
 */
export const Slot = {
  /** Bytes of records the main thread has put into the ring (running total). */
  WRITTEN: 0,
  /** Bytes the writer has made durable and handed back (running total). */
  CONSUMED: 1,
  /** LSN of the last durable record (0: none yet). Main waits on this slot for acknowledgements. */
  DURABLE_LSN: 2,
  /** One of `WriterState`. */
  STATE: 3,
  /** Batches written (writev + fdatasync pairs). */
  BATCHES: 4,
  /** When the last fdatasync returned: microseconds since the Unix epoch. */
  LAST_SYNC_US: 5,
  /** Bytes made durable (running total; includes segment headers). */
  SYNCED_BYTES: 6,
  /**
   * Bumped by the main thread when the writer must look again (see WAITING); the writer waits on it.
   * It loads WAKE before checking, so a bump in between is never missed.
   */
  WAKE: 7,
  /**
   * WRITTEN as of the end of the main thread's last event-loop turn that appended (running total):
   * records up to here are all the main thread had to give at that moment. WRITTEN > SEALED means
   * an append burst is still going on.
   */
  SEALED: 8,
  /**
   * Set by the writer, before it looks at WRITTEN and SEALED for the last time and blocks, to what
   * must wake it (`Waiting`); the main thread bumps WAKE and notifies only then (so a burst of appends
   * costs one notification, not one each). Both sides use sequentially consistent Atomics, so either
   * the writer sees the main thread's store or the main thread sees the writer's flag.
   */
  WAITING: 9,
} as const;
export const CONTROL_SLOTS = 10;

/** What the writer, blocked, waits for (the WAITING slot). */
export const Waiting = {
  NOTHING: 0n,
  /** The ring is empty: wake it for the first record. */
  RECORDS: 1n,
  /** Gathering a batch: wake it when the main thread seals its turn or a batch's worth is there. */
  SEAL: 2n,
} as const;

export const WriterState = {
  RUNNING: 0n,
  /** ENOSPC: the writer waits for the main thread to drop the records in flight. */
  PAUSED: 1n,
  /** The main thread asks the writer to finish what is in the ring and exit. */
  CLOSING: 2n,
  /** A write or fdatasync failed: nothing more is written. */
  FAILED: 3n,
} as const;

/** Copies `source` into the ring at running position `position`, wrapping at the end. */
export function copyIntoRing(ring: Uint8Array, position: number, source: Uint8Array): void {
  const start = position % ring.length;
  const first = Math.min(source.length, ring.length - start);
  ring.set(first === source.length ? source : source.subarray(0, first), start);
  if (first < source.length) ring.set(source.subarray(first), 0);
}

/** Zeroes `length` bytes of the ring at running position `position`, wrapping at the end. */
export function zeroRing(ring: Uint8Array, position: number, length: number): void {
  const start = position % ring.length;
  const first = Math.min(length, ring.length - start);
  ring.fill(0, start, start + first);
  if (first < length) ring.fill(0, 0, length - first);
}

/** The one or two views of the ring holding `length` bytes from running position `position`. */
export function ringSpans(ring: Uint8Array, position: number, length: number): Uint8Array[] {
  const start = position % ring.length;
  const first = Math.min(length, ring.length - start);
  const spans = [ring.subarray(start, start + first)];
  if (first < length) spans.push(ring.subarray(0, length - first));
  return spans;
}

/**
 * A record's header in the ring (format.ts): CRC-32C at +0, payload length at +4, LSN at +8 (low
 * 32 bits) and +12 (high). Records start 8-byte aligned and the ring's size is a multiple of 8, so
 * a header may wrap around the end only between two 4-byte fields, never inside one.
 */
const CRC_FIELD = 0;
const LENGTH_FIELD = 4;
const LSN_LOW_FIELD = 8;
const LSN_HIGH_FIELD = 12;
const TWO_32 = 0x1_0000_0000;

/**
 * The main thread's part of a record header: its length and LSN. The CRC is the writer thread's to
 * fill (`checksumRecordInRing`), off the main thread, before the record is written.
 */
export function writeRecordFields(view: DataView, position: number, length: number, lsn: number): void {
  const capacity = view.byteLength;
  view.setUint32((position + LENGTH_FIELD) % capacity, length, true);
  view.setUint32((position + LSN_LOW_FIELD) % capacity, lsn % TWO_32, true);
  view.setUint32((position + LSN_HIGH_FIELD) % capacity, Math.floor(lsn / TWO_32), true);
}

export function readRecordLength(view: DataView, position: number): number {
  return view.getUint32((position + LENGTH_FIELD) % view.byteLength, true);
}

export function readRecordLsn(view: DataView, position: number): number {
  const capacity = view.byteLength;
  return (
    view.getUint32((position + LSN_HIGH_FIELD) % capacity, true) * TWO_32 +
    view.getUint32((position + LSN_LOW_FIELD) % capacity, true)
  );
}

/**
 * Fills the CRC-32C of the record at running position `position` (payload `length` bytes): over
 * its length and LSN fields and its payload, which follow each other in the ring (format.ts
 * `recordChecksum`), in two parts when they wrap around the end.
 */
export function checksumRecordInRing(
  ring: Uint8Array,
  view: DataView,
  position: number,
  length: number,
): void {
  const capacity = ring.length;
  const start = (position + LENGTH_FIELD) % capacity;
  const end = start + RECORD_HEADER_BYTES - LENGTH_FIELD + length;
  const crc =
    end <= capacity
      ? crc32c(ring.subarray(start, end))
      : crc32c(ring.subarray(0, end - capacity), crc32c(ring.subarray(start)));
  view.setUint32((position + CRC_FIELD) % capacity, crc, true);
}

/** Microseconds since the Unix epoch, comparable between threads. */
export function nowUs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
}
