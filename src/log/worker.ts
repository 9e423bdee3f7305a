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
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  segmentName,
} from './format.js';
import type { WorkerData, WorkerMessage } from './protocol.js';
import { copyFromRing, nowUs, ringSpans, Slot, Waiting, WriterState } from './ring.js';
import { TraceEvent, TraceLog } from './trace.js';

/**
 * Preallocation works in steps of this many zero bytes, each written and fdatasync'd on its own,
 * between batches: a batch that arrives meanwhile waits for at most one step, never for the
 * flush of a whole 64 MiB segment.
 */
const PREALLOCATE_CHUNK_BYTES = 256 * 1024;

interface ActiveSegment {
  fd: number;
  firstLsn: number;
  /** Where the next record goes: just past the last durable one. */
  writeOffset: number;
  /** Records never run past this. */
  segmentSize: number;
  /** The batch bound recorded in this segment's header (recovery relies on it). */
  maxBatchBytes: number;
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
const scratchHeader = Buffer.alloc(RECORD_HEADER_BYTES);
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
    const { fd } = preallocation;
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
 * adaptive).
 */
const GATHER_STEP_MS = 0.05;
const GATHER_MAX_MS = 0.5;
function gatherConcurrentAppends(consumed: number): void {
  const deadline = performance.now() + GATHER_MAX_MS;
  let seen = -1;
  for (;;) {
    const wake = Atomics.load(control, Slot.WAKE);
    Atomics.store(control, Slot.WAITING, Waiting.SEAL);
    // Looked at after the flag is up: a seal stored before it is seen here, one after it wakes us.
    const written = Atomics.load(control, Slot.WRITTEN);
    const pending = Number(written) - consumed;
    if (
      Atomics.load(control, Slot.SEALED) >= written ||
      pending >= data.maxBatchBytes ||
      pending === seen ||
      performance.now() >= deadline
    )
      break;
    seen = pending;
    Atomics.wait(control, Slot.WAKE, wake, GATHER_STEP_MS);
  }
  Atomics.store(control, Slot.WAITING, Waiting.NOTHING);
}

/** The segment being written; module-level so that a failure can still close it. */
let activeSegment: ActiveSegment | undefined;

function run(): void {
  activeSegment =
    data.active === undefined
      ? rollover(undefined, data.nextLsn)
      : { fd: openSync(data.active.path, 'r+'), ...data.active };
  let segment = activeSegment;
  post({ type: 'ready' });

  // The batch: views of the ring's records, by reference (consecutive records merge into one iovec).
  const batch = new ChunkQueue();
  let batchBytes = 0;
  let lastBatchRecords = 0;
  let consumed = Number(Atomics.load(control, Slot.CONSUMED));
  for (;;) {
    // Load WAKE before looking at anything: a change after this load ends the wait below at once.
    const wake = Atomics.load(control, Slot.WAKE);
    const state = Atomics.load(control, Slot.STATE);
    const written = Number(Atomics.load(control, Slot.WRITTEN));
    if (written === consumed) {
      if (state === WriterState.CLOSING) break;
      if (preallocationPending()) {
        try {
          preallocateStep();
        } catch (error) {
          if (!isNoSpace(error)) throw new OsFailure('preallocating the next segment', error);
          discardPreallocation();
          preallocationBlocked = true;
        }
        continue;
      }
      trace?.stamp(TraceEvent.WRITER_IDLE, 0);
      Atomics.store(control, Slot.WAITING, Waiting.RECORDS);
      // Looked at after the flag is up: a record stored before it is seen here, one after it wakes us.
      if (Number(Atomics.load(control, Slot.WRITTEN)) === consumed) Atomics.wait(control, Slot.WAKE, wake);
      Atomics.store(control, Slot.WAITING, Waiting.NOTHING);
      trace?.stamp(TraceEvent.WRITER_WOKE, Number(Atomics.load(control, Slot.WRITTEN)) - consumed);
      continue;
    }

    trace?.stamp(TraceEvent.BATCH_START, written - consumed);
    if (lastBatchRecords > 1) gatherConcurrentAppends(consumed);
    const available = Number(Atomics.load(control, Slot.WRITTEN));

    // Assemble one batch: whole records, at most maxBatchBytes, never across a segment end.
    let position = consumed;
    let records = 0;
    let lastLsn = 0;
    while (position < available) {
      copyFromRing(ring, position, scratchHeader);
      const size = framedSize(scratchHeader.readUInt32LE(4));
      const lsn = Number(scratchHeader.readBigUInt64LE(8));
      const doesNotFit = segment.writeOffset + batchBytes + size > segment.segmentSize;
      if (batchBytes === 0 && (doesNotFit || size > segment.maxBatchBytes)) {
        try {
          segment = rollover(segment, lsn);
          activeSegment = segment;
        } catch (error) {
          if (!isNoSpace(error)) throw new OsFailure(`creating segment ${segmentName(lsn)}`, error);
          pauseForNoSpace(undefined, error);
          consumed = Number(Atomics.load(control, Slot.CONSUMED));
          break;
        }
        continue;
      }
      // A batch always takes its first record (rollover above made room for it), then whole
      // records up to maxBatchBytes.
      if (doesNotFit || (batchBytes > 0 && batchBytes + size > data.maxBatchBytes)) break;
      for (const span of ringSpans(ring, position, size)) batch.appendReference(span);
      batchBytes += size;
      position += size;
      lastLsn = lsn;
      records++;
    }
    if (batchBytes === 0) continue; // paused by ENOSPC at rollover
    trace?.stamp(TraceEvent.BATCH_TAKEN, records);
    const bytes = batchBytes;
    batchBytes = 0;
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
