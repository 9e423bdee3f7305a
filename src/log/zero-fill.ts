/**
 * The segment space the writer thread zero-fills ahead of its records: the rest of the active
 * segment, then the next segment's file (`next.wal.tmp`), in steps, between batches.
 *
 * Why zero-fill at all: on ext4, fdatasync after writing into blocks that are not yet allocated must
 * also commit the allocation (a journal commit, a second device flush); into blocks already written
 * with zeros it flushes the data only. Measured here (lab data dir, ext4 on virtio), a 17 KiB write
 * + fdatasync: 38-65 us into zeroed blocks, 80-130 us appending or into a sparse file. A step costs
 * ~220-300 us per 256 KiB, so zeroing pays for itself once a step's bytes carry more than ~4 batches.
 */
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs';

/**
 * Zero bytes per step, each step written and fdatasync'd on its own, between batches: a batch that
 * arrives meanwhile waits for at most one step, never for the flush of a whole 64 MiB segment.
 */
export const ZERO_FILL_STEP_BYTES = 256 * 1024;

/**
 * While appenders keep the writer busy, the active segment is still zeroed just in time: one step
 * whenever less than this lead is left ahead of the write offset.
 */
const MIN_LEAD_BYTES = 2 * ZERO_FILL_STEP_BYTES;

/**
 * The writer counts as busy until this long after its last batch: a step taken in every short pause
 * would delay the next record of a steady appender each time (measured: a lone appender of 1 KiB
 * records met one per append, p90 0.4-1.6 ms instead of ~0.1 ms), so only just-in-time steps run
 * then; the rest waits for a longer pause.
 */
export const BUSY_AFTER_BATCH_MS = 1;

/** What zero-filling needs of the active segment. */
export interface ZeroFillTarget {
  readonly fd: number;
  /** Where the next record goes; zeros are never written below it. */
  readonly writeOffset: number;
  readonly segmentSize: number;
  /** Bytes from the start of the file written (header, records or zeros), so allocated. */
  zeroedTo: number;
}

/** The next segment's file, as far as it got. */
export interface NextSegmentFile {
  fd: number;
  /** Zero bytes written from the start. */
  filled: number;
}

export class ZeroFill {
  readonly #enabled: boolean;
  readonly #segmentSize: number;
  readonly #nextPath: string;
  readonly #zeros = Buffer.alloc(ZERO_FILL_STEP_BYTES);
  #next: NextSegmentFile | undefined;
  /** Set after ENOSPC while zero-filling: do not try again until the next segment. */
  #stopped = false;

  /** `enabled`: the log's `preallocate` option; `nextPath`: where the next segment is prepared. */
  constructor(enabled: boolean, segmentSize: number, nextPath: string) {
    this.#enabled = enabled;
    this.#segmentSize = segmentSize;
    this.#nextPath = nextPath;
  }

  /** Zeros written into the next segment's file so far. */
  get nextFilled(): number {
    return this.#next?.filled ?? 0;
  }

  /** Whether to zero-fill the active segment now: idle, until it is full; busy, when the lead is short. */
  activeDue(segment: ZeroFillTarget, busy: boolean): boolean {
    if (!this.#enabled || this.#stopped || segment.zeroedTo >= segment.segmentSize) return false;
    return !busy || segment.zeroedTo - segment.writeOffset < MIN_LEAD_BYTES;
  }

  /** Whether the next segment's file still needs zeros (only done while idle). */
  nextDue(): boolean {
    return (
      this.#enabled && !this.#stopped && (this.#next === undefined || this.#next.filled < this.#segmentSize)
    );
  }

  /**
   * One step: of the active segment past its last record (never over a record) when `segment` is
   * given, else of the next segment's file. Throws what the OS throws; on ENOSPC call `stop()`.
   */
  step(segment: ZeroFillTarget | undefined): void {
    if (segment !== undefined) {
      const start = Math.max(segment.zeroedTo, segment.writeOffset);
      const length = Math.min(ZERO_FILL_STEP_BYTES, segment.segmentSize - start);
      writeSync(segment.fd, this.#zeros, 0, length, start);
      fdatasyncSync(segment.fd);
      segment.zeroedTo = start + length;
      return;
    }
    this.#next ??= { fd: openSync(this.#nextPath, 'w+'), filled: 0 };
    const length = Math.min(ZERO_FILL_STEP_BYTES, this.#segmentSize - this.#next.filled);
    writeSync(this.#next.fd, this.#zeros, 0, length, this.#next.filled);
    fdatasyncSync(this.#next.fd);
    this.#next.filled += length;
  }

  /** After ENOSPC: drop the next segment's file and zero nothing more until the next segment. */
  stop(): void {
    this.discard();
    this.#stopped = true;
  }

  /**
   * The next segment's file for a rollover, as far as it got (finishing it would stall the appends
   * waiting), created empty if there is none. Call `handedOver()` once it is renamed to a segment,
   * or `discard()` if that failed.
   */
  takeNext(): NextSegmentFile {
    this.#next ??= { fd: openSync(this.#nextPath, 'w+'), filled: 0 };
    return this.#next;
  }

  /** The file `takeNext()` gave is a segment now: its fd belongs to the caller; zero-fill resumes. */
  handedOver(): void {
    this.#next = undefined;
    this.#stopped = false;
  }

  /** Closes and removes the next segment's file, if any. */
  discard(): void {
    if (this.#next !== undefined) {
      closeSync(this.#next.fd);
      this.#next = undefined;
    }
    try {
      unlinkSync(this.#nextPath);
    } catch {
      // not there
    }
  }
}
