/**
 * The log's writer thread. It owns the segment files: it takes the framed records the main thread
 * put into the ring, writes each batch with one writev and one fdatasync, and only then publishes
 * the batch's last LSN as durable. It blocks in Atomics.wait when idle (it is a thread of its own;
 * blocking is the point) and preallocates the next segment while nothing is pending.
 *
 * Failure rules: ENOSPC while writing a batch truncates the segment back to the last durable byte,
 * pauses, and lets the main thread reject what was in flight; any other write error, and any
 * fdatasync error, is final (FAILED): after a failed fsync the page cache may have dropped the dirty
 * pages, so retrying would report durability that is not there.
 */
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { ChunkQueue, writeAllSync } from '../write/chunk-queue.js';
import {
  encodeSegmentHeader,
  FORMAT_VERSION,
  framedSize,
  PREALLOCATED_NAME,
  SEGMENT_HEADER_BYTES,
  segmentName,
} from './format.js';
import type { WorkerData, WorkerMessage } from './protocol.js';
import {
  checksumRecordInRing,
  nowUs,
  readRecordLength,
  readRecordLsn,
  ringSpans,
  Slot,
  Waiting,
  WriterState,
} from './ring.js';
import { TraceEvent, TraceLog } from './trace.js';

/**
 * Preallocation works in steps of this many zero bytes, each written and fdatasync'd on its own,
 * between batches: a batch that arrives meanwhile waits for at most one step, never for the
 * flush of a whole 64 MiB segment.
 */
const PREALLOCATE_CHUNK_BYTES = 256 * 1024;

/**
 * Why zero-fill at all: on ext4, fdatasync after writing into blocks that are not yet allocated
 * must also commit the allocation (a journal commit, a second device flush); into blocks already
 * written with zeros it flushes the data only. Measured here (lab data dir, ext4 on virtio), a
 * 17 KiB write + fdatasync: 38-65 us into zeroed blocks, 90-122 us appending or into a sparse
 * file. A step costs ~220 us per 256 KiB, so zeroing pays for itself once a step's bytes carry
 * more than ~4 batches. While appenders keep the writer busy, the active segment is still zeroed
 * just in time, one step whenever less than this lead is left ahead of the write offset.
 */
const ZERO_AHEAD_MIN_LEAD_BYTES = 2 * PREALLOCATE_CHUNK_BYTES;

/**
 * The writer counts as busy until this long after its last batch: a step (~0.25 ms) taken in every
 * short pause would delay the next record of a steady appender each time, so only just-in-time steps
 * run then; the rest waits for a pause longer than this.
 */
const BUSY_AFTER_BATCH_MS = 1;

interface ActiveSegment {
  fd: number;
  firstLsn: number;
  /** Where the next record goes: just past the last durable one. */
  writeOffset: number;
  /** Records never run past this. */
  segmentSize: number;
  /** The batch bound recorded in this segment's header (recovery relies on it). */
  maxBatchBytes: number;
  /**
   * Bytes from the start of the file that have been written (header, records, or zeros by
   * preallocation), so their blocks are allocated: >= writeOffset once a step ran.
   */
  zeroedTo: number;
}

interface Preallocation {
  fd: number;
  /** Zero bytes written so far. */
  filled: number;
}

class OsFailure extends Error {
  constructor(
    readonly detail: string,
    override readonly cause: unknown,
  ) {
    super(detail);
  }
}

const data = workerData as WorkerData;
const port = parentPort!;
const control = new BigInt64Array(data.control);
const ring = new Uint8Array(data.ring);
const ringView = new DataView(data.ring);
const preallocatedPath = path.join(data.dir, PREALLOCATED_NAME);
const zeros = Buffer.alloc(PREALLOCATE_CHUNK_BYTES);
const trace = data.trace === undefined ? undefined : new TraceLog(data.trace);
let fdatasyncCalls = 0;
let batchCalls = 0;

function post(message: WorkerMessage): void {
  port.postMessage(message);
}

function isNoSpace(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENOSPC';
}

function syncData(fd: number): void {
  fdatasyncCalls++;
  if (data.faults.failFdatasyncAt === fdatasyncCalls) {
    throw Object.assign(new Error('EIO: i/o error, fdatasync (injected)'), {
      code: 'EIO',
      syscall: 'fdatasync',
    });
  }
  fdatasyncSync(fd);
}

function syncDirectory(): void {
  const fd = openSync(data.dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

let preallocation: Preallocation | undefined;
/** Set after ENOSPC while preallocating: do not try again until the next rollover. */
let preallocationBlocked = false;

function discardPreallocation(): void {
  if (preallocation !== undefined) {
    closeSync(preallocation.fd);
    preallocation = undefined;
  }
  try {
    unlinkSync(preallocatedPath);
  } catch {
    // not there
  }
}

/** One step of filling the next segment with zeros, done only while no record is waiting. */
function preallocateStep(): void {
  if (preallocation === undefined) {
    preallocation = { fd: openSync(preallocatedPath, 'w+'), filled: 0 };
  }
  const length = Math.min(PREALLOCATE_CHUNK_BYTES, data.segmentSize - preallocation.filled);
  writeSync(preallocation.fd, zeros, 0, length, preallocation.filled);
  fdatasyncSync(preallocation.fd);
  preallocation.filled += length;
}

/**
 * Whether to zero-fill the active segment ahead of its write offset now: while the writer is idle
 * until the segment is all zeroed; while appenders keep it busy (`busy`) only when the lead is short.
 */
function zeroAheadDue(segment: ActiveSegment, busy: boolean): boolean {
  if (!data.preallocate || preallocationBlocked || segment.zeroedTo >= segment.segmentSize) return false;
  return !busy || segment.zeroedTo - segment.writeOffset < ZERO_AHEAD_MIN_LEAD_BYTES;
}

/** One step of filling the active segment with zeros past its last record (never over a record). */
function zeroAheadStep(segment: ActiveSegment): void {
  const start = Math.max(segment.zeroedTo, segment.writeOffset);
  const length = Math.min(PREALLOCATE_CHUNK_BYTES, segment.segmentSize - start);
  writeSync(segment.fd, zeros, 0, length, start);
  fdatasyncSync(segment.fd);
  segment.zeroedTo = start + length;
}

/**
 * Runs one zero-filling step, of the active segment (`segment`) or of the next one; ENOSPC stops
 * zero-filling until the next rollover, any other error is final.
 */
function preallocationStepOrStop(segment: ActiveSegment | undefined): void {
  trace?.stamp(
    TraceEvent.PREALLOCATE,
    segment === undefined ? (preallocation?.filled ?? 0) : segment.zeroedTo,
  );
  try {
    if (segment === undefined) preallocateStep();
    else zeroAheadStep(segment);
  } catch (error) {
    if (!isNoSpace(error)) throw new OsFailure('preallocating segment space', error);
    discardPreallocation();
    preallocationBlocked = true;
  }
}

function preallocationPending(): boolean {
  return (
    data.preallocate &&
    !preallocationBlocked &&
    (preallocation === undefined || preallocation.filled < data.segmentSize)
  );
}

/**
 * Makes a new segment starting at `firstLsn` the active one: header written and made durable in the
 * preallocated file, then an atomic rename to the segment's name and an fsync of the directory.
 */
function rollover(current: ActiveSegment | undefined, firstLsn: number): ActiveSegment {
  try {
    // Take the preallocated file as far as it got: finishing it here would stall the appends waiting.
    if (preallocation === undefined) preallocation = { fd: openSync(preallocatedPath, 'w+'), filled: 0 };
    const { fd, filled } = preallocation;
    const header = encodeSegmentHeader({
      version: FORMAT_VERSION,
      maxBatchBytes: data.maxBatchBytes,
      firstLsn,
      segmentSize: data.segmentSize,
    });
    writeSync(fd, header, 0, header.length, 0);
    syncData(fd);
    renameSync(preallocatedPath, path.join(data.dir, segmentName(firstLsn)));
    preallocation = undefined;
    preallocationBlocked = false;
    syncDirectory();
    if (current !== undefined) closeSync(current.fd);
    Atomics.add(control, Slot.SYNCED_BYTES, BigInt(SEGMENT_HEADER_BYTES));
    return {
      fd,
      firstLsn,
      writeOffset: SEGMENT_HEADER_BYTES,
      segmentSize: data.segmentSize,
      maxBatchBytes: data.maxBatchBytes,
      zeroedTo: Math.max(SEGMENT_HEADER_BYTES, filled),
    };
  } catch (error) {
    discardPreallocation();
    throw error;
  }
}

/** After ENOSPC in a batch: cut what the batch wrote, then pause until the main thread resets. */
function pauseForNoSpace(segment: ActiveSegment | undefined, error: unknown): void {
  if (segment !== undefined) {
    ftruncateSync(segment.fd, segment.writeOffset);
    syncData(segment.fd);
    segment.zeroedTo = segment.writeOffset;
  }
  discardPreallocation();
  preallocationBlocked = true;
  Atomics.store(control, Slot.STATE, WriterState.PAUSED);
  post({ type: 'nospace', message: error instanceof Error ? error.message : String(error) });
  // Wait here for the main thread to drop what was in flight; it may be done before we get here.
  for (;;) {
    const wake = Atomics.load(control, Slot.WAKE);
    if (Atomics.load(control, Slot.STATE) !== WriterState.PAUSED) return;
    Atomics.wait(control, Slot.WAKE, wake);
  }
}

/** Writes the batch `queue` holds at the segment's write offset; the queue is empty afterwards. */
function writeBatch(segment: ActiveSegment, queue: ChunkQueue, bytes: number): void {
  batchCalls++;
  try {
    if (data.faults.noSpaceAtBatch === batchCalls) {
      // a partial write first, as a real full disk would leave
      const first = queue.collect(Number.POSITIVE_INFINITY).chunks[0]!;
      const half = first.subarray(0, Math.ceil(first.length / 2));
      writeSync(segment.fd, half, 0, half.length, segment.writeOffset);
      throw Object.assign(new Error('ENOSPC: no space left on device, write (injected)'), {
        code: 'ENOSPC',
      });
    }
    const written = writeAllSync(
      queue,
      (chunks, position) => writevSync(segment.fd, chunks, position),
      segment.writeOffset,
    );
    if (written !== bytes) throw new Error(`batch of ${bytes} bytes wrote ${written}`);
  } finally {
    queue.releaseAll(); // after a failure: the batch is cut from the file and dropped
  }
}

/**
 * Group commit gathering. When the last batch held more than one record, appenders are running
 * concurrently, and the main thread usually appends a burst of records (one per appender whose
 * previous record was just acknowledged) in one event-loop turn. Writing as soon as the first of them
 * lands would split the burst over two fdatasyncs; so wait until the main thread seals its turn
 * (SEALED catches up with WRITTEN; lmdb-js ends its write transactions at the same point, with
 * setImmediate), a batch's worth is there, the ring stopped growing for GATHER_STEP_MS (the main
 * thread is busy with something else), or GATHER_MAX_MS passed (PostgreSQL's commit_delay, made
 * adaptive). The records' checksums are computed meanwhile. Returns the WRITTEN it saw last.
 */
const GATHER_STEP_MS = 0.05;
const GATHER_MAX_MS = 0.5;
function gatherConcurrentAppends(consumed: number): number {
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
    checksumUpTo(written);
    const pending = written - consumed;
    if (
      sealed >= written ||
      pending >= data.maxBatchBytes ||
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
 * so block until the main thread seals that turn (or a batch's worth is there) instead of waking for
 * its first record, which would cost the main thread a futex call in the middle of the burst and the
 * writer a wake-up for nothing; at most GATHER_MAX_MS, then back to waiting for any record.
 */
function waitForBurst(consumed: number, wake: bigint): void {
  Atomics.store(control, Slot.WAITING, Waiting.SEAL);
  if (Number(Atomics.load(control, Slot.WRITTEN)) === consumed)
    Atomics.wait(control, Slot.WAKE, wake, GATHER_MAX_MS);
  Atomics.store(control, Slot.WAITING, Waiting.NOTHING);
}

/** Records in the ring from CONSUMED up to here have their CRC-32C filled in. */
let checksummed = 0;

/** Fills the CRC-32C of every record the ring holds up to running position `written`. */
function checksumUpTo(written: number): void {
  while (checksummed < written) {
    const length = readRecordLength(ringView, checksummed);
    checksumRecordInRing(ring, ringView, checksummed, length);
    checksummed += framedSize(length);
  }
}

/** The segment being written; module-level so that a failure can still close it. */
let activeSegment: ActiveSegment | undefined;

function run(): void {
  if (data.active === undefined) activeSegment = rollover(undefined, data.nextLsn);
  else {
    const fd = openSync(data.active.path, 'r+');
    // A recovered segment was written (or preallocated) up to its size; recovery cuts a torn tail
    // by truncating, and nothing leaves holes below the size.
    activeSegment = { fd, ...data.active, zeroedTo: fstatSync(fd).size };
  }
  let segment = activeSegment;
  post({ type: 'ready' });

  // The batch: the one or two spans of the ring its records occupy, by reference.
  const batch = new ChunkQueue();
  let lastBatchRecords = 0;
  let burstExpected = false;
  /** performance.now() when the last batch was durable (-Infinity: none yet, idle). */
  let lastBatchAt = Number.NEGATIVE_INFINITY;
  let consumed = Number(Atomics.load(control, Slot.CONSUMED));
  checksummed = consumed;
  for (;;) {
    // Load WAKE before looking at anything: a change after this load ends the wait below at once.
    const wake = Atomics.load(control, Slot.WAKE);
    const state = Atomics.load(control, Slot.STATE);
    let written = Number(Atomics.load(control, Slot.WRITTEN));
    if (written === consumed) {
      if (state === WriterState.CLOSING) break;
      if (burstExpected) {
        if (zeroAheadDue(segment, true)) {
          preallocationStepOrStop(segment); // just in time; the burst gathers in the ring meanwhile
          continue;
        }
        burstExpected = false; // once per batch: if nothing came, preallocate or wait for any record
        trace?.stamp(TraceEvent.WRITER_IDLE, 1);
        waitForBurst(consumed, wake);
        trace?.stamp(TraceEvent.WRITER_WOKE, Number(Atomics.load(control, Slot.WRITTEN)) - consumed);
        continue;
      }
      const busyFor = lastBatchAt + BUSY_AFTER_BATCH_MS - performance.now();
      if (zeroAheadDue(segment, busyFor > 0)) {
        preallocationStepOrStop(segment);
        continue;
      }
      if (busyFor <= 0 && preallocationPending()) {
        preallocationStepOrStop(undefined);
        continue;
      }
      // While busy with zero-filling left to do, wake up when the pause is long enough for it.
      const pauseMs =
        busyFor > 0 && (zeroAheadDue(segment, false) || preallocationPending()) ? busyFor : undefined;
      trace?.stamp(TraceEvent.WRITER_IDLE, 0);
      Atomics.store(control, Slot.WAITING, Waiting.RECORDS);
      // Looked at after the flag is up: a record stored before it is seen here, one after it wakes us.
      if (Number(Atomics.load(control, Slot.WRITTEN)) === consumed)
        Atomics.wait(control, Slot.WAKE, wake, pauseMs);
      Atomics.store(control, Slot.WAITING, Waiting.NOTHING);
      trace?.stamp(TraceEvent.WRITER_WOKE, Number(Atomics.load(control, Slot.WRITTEN)) - consumed);
      continue;
    }

    trace?.stamp(TraceEvent.BATCH_START, written - consumed);
    if (lastBatchRecords > 1) written = gatherConcurrentAppends(consumed);
    trace?.stamp(TraceEvent.GATHERED, written - consumed);

    // Assemble one batch: whole records, at most maxBatchBytes, never across a segment end.
    let position = consumed;
    let records = 0;
    let lastRecordAt = consumed;
    while (position < written) {
      const length = readRecordLength(ringView, position);
      const size = framedSize(length);
      const doesNotFit = segment.writeOffset + (position - consumed) + size > segment.segmentSize;
      if (position === consumed && (doesNotFit || size > segment.maxBatchBytes)) {
        const lsn = readRecordLsn(ringView, position);
        try {
          segment = rollover(segment, lsn);
          activeSegment = segment;
        } catch (error) {
          if (!isNoSpace(error)) throw new OsFailure(`creating segment ${segmentName(lsn)}`, error);
          pauseForNoSpace(undefined, error);
          consumed = Number(Atomics.load(control, Slot.CONSUMED));
          checksummed = consumed;
          break;
        }
        continue;
      }
      // A batch always takes its first record (rollover above made room for it), then whole
      // records up to maxBatchBytes.
      if (doesNotFit || (position > consumed && position - consumed + size > data.maxBatchBytes)) break;
      if (position >= checksummed) {
        checksumRecordInRing(ring, ringView, position, length);
        checksummed = position + size;
      }
      lastRecordAt = position;
      position += size;
      records++;
    }
    if (records === 0) continue; // paused by ENOSPC at rollover
    const lastLsn = readRecordLsn(ringView, lastRecordAt);
    const bytes = position - consumed;
    for (const span of ringSpans(ring, consumed, bytes)) batch.appendReference(span);
    trace?.stamp(TraceEvent.BATCH_TAKEN, records);
    try {
      writeBatch(segment, batch, bytes);
    } catch (error) {
      if (!isNoSpace(error)) throw new OsFailure(`writing to ${segmentName(segment.firstLsn)}`, error);
      try {
        pauseForNoSpace(segment, error);
      } catch (truncateError) {
        throw new OsFailure(`cutting a failed batch from ${segmentName(segment.firstLsn)}`, truncateError);
      }
      consumed = Number(Atomics.load(control, Slot.CONSUMED));
      checksummed = consumed;
      continue;
    }
    trace?.stamp(TraceEvent.WRITTEN, bytes);
    try {
      syncData(segment.fd);
    } catch (error) {
      throw new OsFailure(`fdatasync of ${segmentName(segment.firstLsn)}`, error);
    }
    trace?.stamp(TraceEvent.SYNCED, 0);
    segment.writeOffset += bytes;
    consumed = position;
    lastBatchRecords = records;
    lastBatchAt = performance.now();
    burstExpected = records > 1;
    Atomics.store(control, Slot.LAST_SYNC_US, nowUs());
    Atomics.add(control, Slot.BATCHES, 1n);
    Atomics.add(control, Slot.SYNCED_BYTES, BigInt(bytes));
    Atomics.store(control, Slot.CONSUMED, BigInt(consumed));
    Atomics.store(control, Slot.DURABLE_LSN, BigInt(lastLsn));
    Atomics.notify(control, Slot.DURABLE_LSN);
    trace?.stamp(TraceEvent.PUBLISHED, lastLsn);
  }
  activeSegment = undefined;
  closeSync(segment.fd);
  discardPreallocation();
}

try {
  run();
  post({ type: 'closed' });
} catch (error) {
  Atomics.store(control, Slot.STATE, WriterState.FAILED);
  try {
    if (activeSegment !== undefined) closeSync(activeSegment.fd);
    discardPreallocation();
  } catch {
    // already failing; the first error is the one reported
  }
  const failure = error instanceof OsFailure ? error : new OsFailure('writer thread error', error);
  const cause = failure.cause;
  post({
    type: 'failed',
    detail: failure.detail,
    message: cause instanceof Error ? cause.message : String(cause),
    code: typeof cause === 'object' && cause !== null ? String((cause as { code?: unknown }).code ?? '') : '',
  });
} finally {
  // release a main thread waiting for acknowledgements, whatever happened
  Atomics.notify(control, Slot.DURABLE_LSN);
}
