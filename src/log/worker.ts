/**
 * The log's writer thread. It owns the segment files: it takes the framed records the main thread
 * put into the ring, writes each batch with one writev and one fdatasync, and only then publishes
 * the batch's last LSN as durable. It blocks in Atomics.wait when idle (it is a thread of its own;
 * blocking is the point) and zero-fills segment space between batches (zero-fill.ts).
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
import { BatchGatherer } from './gather.js';
import type { WorkerData, WorkerMessage } from './protocol.js';
import { nowUs, readRecordLength, readRecordLsn, ringSpans, Slot, Waiting, WriterState } from './ring.js';
import { TraceEvent, TraceLog } from './trace.js';
import { BUSY_AFTER_BATCH_MS, ZeroFill } from './zero-fill.js';

interface ActiveSegment {
  fd: number;
  firstLsn: number;
  /** Where the next record goes: just past the last durable one. */
  writeOffset: number;
  /** Records never run past this. */
  segmentSize: number;
  /** The batch bound recorded in this segment's header (recovery relies on it). */
  maxBatchBytes: number;
  /** Bytes from the start of the file written (header, records or zeros), so allocated. */
  zeroedTo: number;
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
const zeroFill = new ZeroFill(data.preallocate, data.segmentSize, path.join(data.dir, PREALLOCATED_NAME));
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

/**
 * Runs one zero-filling step, of the active segment (`segment`) or of the next one; ENOSPC stops
 * zero-filling until the next segment, any other error is final.
 */
function zeroFillStep(segment: ActiveSegment | undefined): void {
  trace?.stamp(TraceEvent.PREALLOCATE, segment === undefined ? zeroFill.nextFilled : segment.zeroedTo);
  try {
    zeroFill.step(segment);
  } catch (error) {
    if (!isNoSpace(error)) throw new OsFailure('zero-filling segment space', error);
    zeroFill.stop();
  }
}

/**
 * Makes a new segment starting at `firstLsn` the active one: header written and made durable in the
 * preallocated file, then an atomic rename to the segment's name and an fsync of the directory.
 */
function rollover(current: ActiveSegment | undefined, firstLsn: number): ActiveSegment {
  try {
    const { fd, filled } = zeroFill.takeNext();
    const header = encodeSegmentHeader({
      version: FORMAT_VERSION,
      maxBatchBytes: data.maxBatchBytes,
      firstLsn,
      segmentSize: data.segmentSize,
    });
    writeSync(fd, header, 0, header.length, 0);
    syncData(fd);
    renameSync(path.join(data.dir, PREALLOCATED_NAME), path.join(data.dir, segmentName(firstLsn)));
    zeroFill.handedOver();
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
    zeroFill.discard();
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
  zeroFill.stop();
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
  const gatherer = new BatchGatherer(control, ring, data.maxBatchBytes, consumed);
  for (;;) {
    // Load WAKE before looking at anything: a change after this load ends the wait below at once.
    const wake = Atomics.load(control, Slot.WAKE);
    const state = Atomics.load(control, Slot.STATE);
    let written = Number(Atomics.load(control, Slot.WRITTEN));
    if (written === consumed) {
      if (state === WriterState.CLOSING) break;
      if (burstExpected) {
        if (zeroFill.activeDue(segment, true)) {
          zeroFillStep(segment); // just in time; the burst gathers in the ring meanwhile
          continue;
        }
        burstExpected = false; // once per batch: if nothing came, preallocate or wait for any record
        trace?.stamp(TraceEvent.WRITER_IDLE, 1);
        gatherer.waitForBurst(consumed, wake);
        trace?.stamp(TraceEvent.WRITER_WOKE, Number(Atomics.load(control, Slot.WRITTEN)) - consumed);
        continue;
      }
      const busyFor = lastBatchAt + BUSY_AFTER_BATCH_MS - performance.now();
      if (zeroFill.activeDue(segment, busyFor > 0)) {
        zeroFillStep(segment);
        continue;
      }
      if (busyFor <= 0 && zeroFill.nextDue()) {
        zeroFillStep(undefined);
        continue;
      }
      // While busy with zero-filling left to do, wake up when the pause is long enough for it.
      const pauseMs =
        busyFor > 0 && (zeroFill.activeDue(segment, false) || zeroFill.nextDue()) ? busyFor : undefined;
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
    if (lastBatchRecords > 1) written = gatherer.gather(consumed);
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
          gatherer.restartAt(consumed);
          break;
        }
        continue;
      }
      // A batch always takes its first record (rollover above made room for it), then whole
      // records up to maxBatchBytes.
      if (doesNotFit || (position > consumed && position - consumed + size > data.maxBatchBytes)) break;
      gatherer.checksumUpTo(position + size);
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
      gatherer.restartAt(consumed);
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
  zeroFill.discard();
}

try {
  run();
  post({ type: 'closed' });
} catch (error) {
  Atomics.store(control, Slot.STATE, WriterState.FAILED);
  try {
    if (activeSegment !== undefined) closeSync(activeSegment.fd);
    zeroFill.discard();
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
