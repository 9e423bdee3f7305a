import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  InvalidArgumentError,
  messageOf,
  SluiceError,
  WalClosedError,
  WalCorruptError,
  WalFailedError,
  WalLsnUnavailableError,
  WalNoSpaceError,
  WalRecordTooLargeError,
} from '../errors.js';
import { Fifo } from '../internal/fifo.js';
import { waitAsync } from '../internal/wait-async.js';
import { RecordDecoder } from './decoder.js';
import { framedSize, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from './format.js';
import type { FaultInjection, WorkerData, WorkerMessage } from './protocol.js';
import { readWindows } from './read.js';
import {
  listSegments,
  type Recovered,
  readSegmentHeader,
  recover,
  type SegmentFile,
  syncDirectory,
} from './recovery.js';
import {
  CONTROL_SLOTS,
  copyIntoRing,
  Slot,
  Waiting,
  WriterState,
  writeRecordFields,
  zeroRing,
} from './ring.js';
import { TraceEvent, TraceLog } from './trace.js';

export interface WalOptions {
  /** Bytes per segment file (default 64 MiB). Whole old segments are what `truncateBefore` drops. */
  segmentSize?: number;
  /** Upper bound of one batch, one writev + one fdatasync (default 1 MiB); also the largest record. */
  maxBatchBytes?: number;
  /** Bytes of records accepted but not yet durable; appends wait beyond it (default 8 MiB). */
  maxBytesInFlight?: number;
  /** Fill the next segment with zeros ahead of time, while idle (default true). */
  preallocate?: boolean;
  /**
   * What recovery does with a torn tail, the partly written last batch a crash leaves:
   * `'truncate-tail'` (default) cuts it off, `'absolute'` refuses to open (SLUICE_ERR_WAL_TORN_TAIL).
   */
  recovery?: 'truncate-tail' | 'absolute';
}

/** A record read back by `replay`. */
export interface WalRecord {
  lsn: number;
  data: Buffer;
}

export interface WalStats {
  durableLsn: number;
  /** LSN the next appended record gets. */
  nextLsn: number;
  /** Batches written, each one writev + one fdatasync. */
  batches: number;
  /** Bytes made durable since open. */
  syncedBytes: number;
  /** Bytes accepted but not yet durable. */
  bytesInFlight: number;
  /** When the last fdatasync returned (ms since the Unix epoch, sub-ms precision), 0 if none yet. */
  lastSyncAt: number;
  /** What recovery found when the log was opened. */
  recovered: { records: number; tornBytes: number; segments: number };
}

/** Internal: test hooks (`test/log`), never part of the public options. */
export const kTestHooks = Symbol('sluice.wal.testHooks');
export interface TestHooks {
  faults?: FaultInjection;
  /** Use the polling fallback as if `Atomics.waitAsync` were missing. */
  pollForAcknowledgements?: boolean;
  /** Lab only: cycle tracing (trace.ts); `main` is stamped by this thread, `writer` by the writer. */
  trace?: { main: SharedArrayBuffer; writer: SharedArrayBuffer };
}

type AppendData = Uint8Array | string;

interface PendingAppend {
  records: Uint8Array[];
  framedBytes: number;
  /** LSN of its last record, assigned when it enters the ring. */
  lastLsn: number;
  resolve: (lsn: number) => void;
  reject: (error: unknown) => void;
}

const MiB = 1 << 20;

function positiveInteger(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw new InvalidArgumentError(name, `an integer from ${min} to ${max}`, value);
  return value;
}

/**
 * A durable write-ahead log: `append` resolves with the record's LSN only once the record is on
 * stable storage. Records go through a SharedArrayBuffer ring to a writer thread that commits them
 * in groups (one writev + one fdatasync per batch), so a busy event loop neither delays a commit nor
 * pays for one. See docs/log.md.
 */
export class Wal {
  readonly dir: string;
  readonly #worker: Worker;
  readonly #control: BigInt64Array;
  readonly #ring: Uint8Array;
  readonly #ringView: DataView;
  readonly #maxBatchBytes: number;
  readonly #recovered: Recovered;
  readonly #poll: boolean;
  readonly #trace: TraceLog | undefined;
  /** Appends in the ring, waiting to be durable, in LSN order. */
  readonly #inRing = new Fifo<PendingAppend>();
  /** Appends waiting for room in the ring (backpressure), in call order. */
  readonly #waitingForRoom = new Fifo<PendingAppend>();
  #nextLsn: number;
  #written = 0;
  #waiterArmed = false;
  /** A `#seal` is queued with setImmediate. */
  #sealScheduled = false;
  #failure: SluiceError | undefined;
  #closing: Promise<void> | undefined;
  /** `close()` waiting for the pending appends to settle. */
  readonly #drained: (() => void)[] = [];
  #workerExited: Promise<void>;

  private constructor(
    dir: string,
    worker: Worker,
    control: BigInt64Array,
    ring: Uint8Array,
    maxBatchBytes: number,
    recovered: Recovered,
    poll: boolean,
    trace: TraceLog | undefined,
  ) {
    this.#trace = trace;
    this.dir = dir;
    this.#worker = worker;
    this.#control = control;
    this.#ring = ring;
    this.#ringView = new DataView(ring.buffer, ring.byteOffset, ring.byteLength);
    this.#maxBatchBytes = maxBatchBytes;
    this.#recovered = recovered;
    this.#nextLsn = recovered.nextLsn;
    this.#poll = poll;
    this.#workerExited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: WorkerMessage) => this.#onWorkerMessage(message));
    worker.on('error', (error) => this.#fail(new WalFailedError(dir, 'writer thread error', error)));
    worker.on('exit', (code) => {
      if (this.#closing === undefined || this.#inRing.length > 0)
        this.#fail(new WalFailedError(dir, `writer thread exited (code ${code})`));
    });
    worker.unref();
  }

  /** Opens (creating if needed) the log in `dir`, recovering it first; see `WalOptions`. */
  static async open(dir: string, options: WalOptions = {}): Promise<Wal> {
    if (typeof dir !== 'string' || dir.length === 0) throw new InvalidArgumentError('dir', 'a path', dir);
    const maxBatchBytes = positiveInteger('maxBatchBytes', options.maxBatchBytes, MiB, 64, 256 * MiB);
    const segmentSize = positiveInteger(
      'segmentSize',
      options.segmentSize,
      64 * MiB,
      SEGMENT_HEADER_BYTES + maxBatchBytes,
      2 ** 32 - 1,
    );
    const maxBytesInFlight = positiveInteger(
      'maxBytesInFlight',
      options.maxBytesInFlight,
      Math.max(8 * MiB, maxBatchBytes),
      maxBatchBytes,
      1024 * MiB,
    );
    const recovery = options.recovery ?? 'truncate-tail';
    if (recovery !== 'truncate-tail' && recovery !== 'absolute')
      throw new InvalidArgumentError('recovery', "'truncate-tail' or 'absolute'", recovery);
    const preallocate = options.preallocate ?? true;
    if (typeof preallocate !== 'boolean')
      throw new InvalidArgumentError('preallocate', 'a boolean', preallocate);
    const hooks = (options as { [kTestHooks]?: TestHooks })[kTestHooks] ?? {};

    const absoluteDir = path.resolve(dir);
    let recovered: Recovered;
    try {
      recovered = await recover(absoluteDir, recovery);
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      throw new WalFailedError(absoluteDir, `cannot open it: ${messageOf(error)}`, error);
    }
    const controlBuffer = new SharedArrayBuffer(CONTROL_SLOTS * 8);
    const control = new BigInt64Array(controlBuffer);
    control[Slot.DURABLE_LSN] = BigInt(recovered.nextLsn - 1);
    // Round the ring to whole 8-byte units so record alignment survives wrapping.
    const ringBuffer = new SharedArrayBuffer(Math.ceil(maxBytesInFlight / 8) * 8);
    const data: WorkerData = {
      dir: absoluteDir,
      control: controlBuffer,
      ring: ringBuffer,
      active: recovered.active,
      nextLsn: recovered.nextLsn,
      segmentSize,
      maxBatchBytes,
      preallocate,
      faults: hooks.faults ?? {},
      trace: hooks.trace?.writer,
    };
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: data });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: WorkerMessage): void => {
        if (message.type === 'ready') {
          cleanup();
          resolve();
        } else if (message.type === 'failed') {
          cleanup();
          reject(
            new WalFailedError(
              absoluteDir,
              message.detail,
              Object.assign(new Error(message.message), { code: message.code }),
            ),
          );
        }
      };
      const onError = (error: Error): void => {
        cleanup();
        reject(new WalFailedError(absoluteDir, 'writer thread error', error));
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new WalFailedError(absoluteDir, `writer thread exited (code ${code}) while opening`));
      };
      const cleanup = (): void => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
    return new Wal(
      absoluteDir,
      worker,
      control,
      new Uint8Array(ringBuffer),
      maxBatchBytes,
      recovered,
      hooks.pollForAcknowledgements === true || waitAsync === undefined,
      hooks.trace === undefined ? undefined : new TraceLog(hooks.trace.main),
    );
  }

  /** LSN of the last durable record (0: none); read from shared memory, no event needed. */
  get durableLsn(): number {
    return Number(Atomics.load(this.#control, Slot.DURABLE_LSN));
  }

  get stats(): WalStats {
    return {
      durableLsn: this.durableLsn,
      nextLsn: this.#nextLsn,
      batches: Number(Atomics.load(this.#control, Slot.BATCHES)),
      syncedBytes: Number(Atomics.load(this.#control, Slot.SYNCED_BYTES)),
      bytesInFlight: this.#written - Number(Atomics.load(this.#control, Slot.CONSUMED)),
      lastSyncAt: Number(Atomics.load(this.#control, Slot.LAST_SYNC_US)) / 1000,
      recovered: {
        records: this.#recovered.records,
        tornBytes: this.#recovered.tornBytes,
        segments: this.#recovered.segments.length,
      },
    };
  }

  /**
   * Appends one record, or several with consecutive LSNs, and resolves with the (last) record's LSN
   * once it is durable. Waits while `maxBytesInFlight` bytes are in flight. Records of one call are
   * written in one batch when they fit, but are not atomic: after a crash a prefix of them may survive.
   */
  append(data: AppendData | readonly AppendData[]): Promise<number> {
    if (this.#closing !== undefined) return Promise.reject(new WalClosedError(this.dir));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const items = Array.isArray(data) ? (data as readonly AppendData[]) : [data as AppendData];
    if (items.length === 0)
      return Promise.reject(new InvalidArgumentError('data', 'a non-empty array', data));
    const records: Uint8Array[] = [];
    let framedBytes = 0;
    for (const item of items) {
      let record: Uint8Array;
      if (typeof item === 'string') record = Buffer.from(item, 'utf8');
      else if (item instanceof Uint8Array) record = item;
      else
        return Promise.reject(
          new InvalidArgumentError('data', 'a Uint8Array, a string or an array of them', item),
        );
      if (framedSize(record.length) > this.#maxBatchBytes)
        return Promise.reject(
          new WalRecordTooLargeError(record.length, this.#maxBatchBytes - RECORD_HEADER_BYTES),
        );
      records.push(record);
      framedBytes += framedSize(record.length);
    }
    if (framedBytes > this.#ring.length) {
      // one call may not exceed the ring; split it so it flows through in pieces
      const half = Math.ceil(items.length / 2);
      return Promise.all([this.append(items.slice(0, half)), this.append(items.slice(half))]).then(
        ([, last]) => last,
      );
    }
    return new Promise<number>((resolve, reject) => {
      const entry: PendingAppend = { records, framedBytes, lastLsn: 0, resolve, reject };
      if (this.#waitingForRoom.length === 0 && this.#hasRoom(framedBytes)) this.#enterRing(entry);
      else this.#waitingForRoom.push(entry);
    });
  }

  /**
   * The durable records from `fromLsn` (default: the oldest kept) up to the `durableLsn` of the
   * moment it starts, in order. Reading a segment removed by `truncateBefore` meanwhile fails
   * with SLUICE_ERR_WAL_LSN_UNAVAILABLE.
   */
  async *replay(fromLsn?: number): AsyncGenerator<WalRecord, void, undefined> {
    if (this.#closing !== undefined) throw new WalClosedError(this.dir);
    if (fromLsn !== undefined && (!Number.isSafeInteger(fromLsn) || fromLsn < 1))
      throw new InvalidArgumentError('fromLsn', 'an integer >= 1', fromLsn);
    const lastLsn = this.durableLsn;
    const segments = await listSegments(this.dir);
    const oldest = segments[0]?.firstLsn ?? this.#nextLsn;
    const from = fromLsn ?? oldest;
    if (from < oldest) throw new WalLsnUnavailableError(from, oldest);
    if (from > lastLsn) return;
    let index = 0;
    while (index + 1 < segments.length && segments[index + 1]!.firstLsn <= from) index++;
    for (; index < segments.length; index++) {
      const segment = segments[index]!;
      if (segment.firstLsn > lastLsn) return;
      try {
        yield* this.#replaySegment(segment, from, lastLsn, index === segments.length - 1);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        // removed by truncateBefore while we were reading
        if (code === 'ENOENT' || code === 'SLUICE_ERR_FILE_NOT_FOUND')
          throw new WalLsnUnavailableError(Math.max(from, segment.firstLsn), segment.firstLsn);
        throw error;
      }
    }
  }

  /** The records of one segment from `from` to `lastLsn`; damage before `lastLsn` is an error. */
  async *#replaySegment(
    segment: SegmentFile,
    from: number,
    lastLsn: number,
    isLast: boolean,
  ): AsyncGenerator<WalRecord, void, undefined> {
    const header = await readSegmentHeader(segment);
    const decoder = new RecordDecoder({
      offset: SEGMENT_HEADER_BYTES,
      expectedLsn: segment.firstLsn,
      fileSize: Number.MAX_SAFE_INTEGER,
      maxPayloadBytes: header.maxBatchBytes - RECORD_HEADER_BYTES,
    });
    for await (const window of readWindows(segment.path, SEGMENT_HEADER_BYTES)) {
      for (const record of decoder.push(window.bytes)) {
        if (record.lsn > lastLsn) return;
        if (record.lsn >= from) yield { lsn: record.lsn, data: record.payload };
      }
      if (decoder.stop !== undefined) break;
    }
    const stop = decoder.finish();
    if (stop.kind === 'invalid' && (decoder.nextLsn <= lastLsn || !isLast))
      throw new WalCorruptError(segment.name, stop.offset, stop.reason);
  }

  /**
   * Deletes the whole segments whose records are all below `lsn` (never the newest segment), then
   * fsyncs the directory. Resolves with the number of segments deleted.
   */
  async truncateBefore(lsn: number): Promise<number> {
    if (this.#closing !== undefined) throw new WalClosedError(this.dir);
    if (!Number.isSafeInteger(lsn) || lsn < 1) throw new InvalidArgumentError('lsn', 'an integer >= 1', lsn);
    const segments = await listSegments(this.dir);
    let deleted = 0;
    for (let index = 0; index + 1 < segments.length; index++) {
      if (segments[index + 1]!.firstLsn > lsn) break;
      await unlink(segments[index]!.path);
      deleted++;
    }
    if (deleted > 0) await syncDirectory(this.dir);
    return deleted;
  }

  /**
   * Waits for every accepted append to settle, then stops the writer thread. New appends reject with
   * SLUICE_ERR_WAL_CLOSED from the moment `close()` is called. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    if (this.#inRing.length > 0 || this.#waitingForRoom.length > 0)
      await new Promise<void>((resolve) => this.#drained.push(resolve));
    const previous = Atomics.compareExchange(
      this.#control,
      Slot.STATE,
      WriterState.RUNNING,
      WriterState.CLOSING,
    );
    if (previous === WriterState.RUNNING) {
      this.#worker.ref();
      this.#wakeWriter();
      await this.#workerExited;
    }
    // Otherwise the writer failed: it closed its files and ends by itself after reporting the
    // failure. (Waiting for its 'exit', or terminate(), can hang on Node 20 when the thread is
    // already on its way out.)
  }

  /** Called after appends settle: wakes `close()` once nothing is pending. */
  #notifyIfDrained(): void {
    if (this.#inRing.length > 0 || this.#waitingForRoom.length > 0) return;
    for (const resolve of this.#drained.splice(0)) resolve();
  }

  #hasRoom(bytes: number): boolean {
    const consumed = Number(Atomics.load(this.#control, Slot.CONSUMED));
    return this.#written - consumed + bytes <= this.#ring.length;
  }

  /**
   * Assigns LSNs, copies the framed records into the ring (length, LSN, payload, padding; the writer
   * thread fills in the CRC-32C), and tells the writer if it waits for them.
   */
  #enterRing(entry: PendingAppend): void {
    const ring = this.#ring;
    for (const record of entry.records) {
      const lsn = this.#nextLsn++;
      const position = this.#written;
      writeRecordFields(this.#ringView, position, record.length, lsn);
      copyIntoRing(ring, position + RECORD_HEADER_BYTES, record);
      const size = framedSize(record.length);
      const padding = size - RECORD_HEADER_BYTES - record.length;
      if (padding > 0) zeroRing(ring, position + RECORD_HEADER_BYTES + record.length, padding);
      this.#written = position + size;
      entry.lastLsn = lsn;
    }
    entry.records = [];
    this.#inRing.push(entry);
    this.#trace?.stamp(TraceEvent.APPEND, entry.lastLsn);
    Atomics.store(this.#control, Slot.WRITTEN, BigInt(this.#written));
    if (!this.#sealScheduled) {
      this.#sealScheduled = true;
      setImmediate(this.#seal);
    }
    this.#wakeWriterIf(true);
    if (this.#inRing.length === 1) this.#worker.ref();
    this.#armWaiter();
  }

  /**
   * End of the event-loop turn in which records were appended: everything in the ring is all this
   * thread had to give, so a writer gathering a batch may write it now.
   */
  readonly #seal = (): void => {
    this.#sealScheduled = false;
    Atomics.store(this.#control, Slot.SEALED, BigInt(this.#written));
    this.#wakeWriterIf(false);
  };

  /**
   * Wakes the writer if it is blocked waiting for what just happened: any record (`recordAdded`) when
   * it waits for records, the seal or a full batch when it gathers. The flag is cleared by whoever
   * wins the exchange, so one wake-up is sent per wait however many appends see it.
   */
  #wakeWriterIf(recordAdded: boolean): void {
    for (;;) {
      const waiting = Atomics.load(this.#control, Slot.WAITING);
      const wanted =
        waiting === Waiting.SEAL
          ? !recordAdded ||
            this.#written - Number(Atomics.load(this.#control, Slot.CONSUMED)) >= this.#maxBatchBytes
          : waiting === Waiting.RECORDS && recordAdded;
      if (!wanted) return;
      if (Atomics.compareExchange(this.#control, Slot.WAITING, waiting, Waiting.NOTHING) === waiting) {
        this.#wakeWriter();
        return;
      }
    }
  }

  /** Wakes the writer whatever it waits for (state changes: close, resume after ENOSPC). */
  #wakeWriter(): void {
    Atomics.add(this.#control, Slot.WAKE, 1n);
    Atomics.notify(this.#control, Slot.WAKE);
  }

  /** Waits (without blocking) for DURABLE_LSN to move: Atomics.waitAsync, or a polling fallback. */
  #armWaiter(): void {
    if (this.#waiterArmed || this.#inRing.length === 0) return;
    this.#waiterArmed = true;
    const seen = Atomics.load(this.#control, Slot.DURABLE_LSN);
    const wake = (): void => {
      this.#waiterArmed = false;
      this.#acknowledge();
    };
    // The writer may have been faster than us: the oldest append may be durable already.
    if (this.#inRing.peek()!.lastLsn <= Number(seen)) {
      queueMicrotask(wake);
      return;
    }
    if (this.#poll || waitAsync === undefined) {
      const poll = (): void => {
        if (Atomics.load(this.#control, Slot.DURABLE_LSN) !== seen || this.#inRing.length === 0) wake();
        else setTimeout(poll, 1);
      };
      setImmediate(poll);
      return;
    }
    const result = waitAsync(this.#control, Slot.DURABLE_LSN, seen);
    if (result.async) void result.value.then(wake);
    else queueMicrotask(wake);
  }

  /** Resolves every append now durable, admits waiting ones into the freed room, re-arms. */
  #acknowledge(): void {
    const durable = this.durableLsn;
    this.#trace?.stamp(TraceEvent.ACK_START, durable);
    let resolved = 0;
    for (
      let entry = this.#inRing.peek();
      entry !== undefined && entry.lastLsn <= durable;
      entry = this.#inRing.peek()
    ) {
      this.#inRing.shift();
      entry.resolve(entry.lastLsn);
      resolved++;
    }
    this.#trace?.stamp(TraceEvent.ACK_END, resolved);
    this.#admitWaiting();
    if (this.#inRing.length === 0) {
      this.#worker.unref();
      this.#notifyIfDrained();
    } else if (this.#failure === undefined) {
      this.#armWaiter();
    }
  }

  #admitWaiting(): void {
    if (this.#failure !== undefined) return;
    for (let entry = this.#waitingForRoom.peek(); entry !== undefined; entry = this.#waitingForRoom.peek()) {
      if (!this.#hasRoom(entry.framedBytes)) break;
      this.#waitingForRoom.shift();
      this.#enterRing(entry);
    }
  }

  #onWorkerMessage(message: WorkerMessage): void {
    if (message.type === 'nospace') {
      this.#acknowledge();
      // The writer cut the failed batch and paused: drop everything in flight, rewind the LSN.
      const cause = Object.assign(new Error(message.message), { code: 'ENOSPC' });
      const dropped: PendingAppend[] = [];
      for (let entry = this.#inRing.shift(); entry !== undefined; entry = this.#inRing.shift())
        dropped.push(entry);
      this.#nextLsn = this.durableLsn + 1;
      Atomics.store(this.#control, Slot.CONSUMED, BigInt(this.#written));
      Atomics.store(this.#control, Slot.STATE, WriterState.RUNNING);
      this.#wakeWriter();
      for (const entry of dropped) entry.reject(new WalNoSpaceError(this.dir, entry.lastLsn, cause));
      this.#worker.unref();
      this.#admitWaiting();
      this.#notifyIfDrained();
    } else if (message.type === 'failed') {
      this.#acknowledge();
      this.#fail(
        new WalFailedError(
          this.dir,
          message.detail,
          Object.assign(new Error(message.message), { code: message.code }),
        ),
      );
    }
  }

  /** Enters the failed state: every pending and later append rejects with `error`. */
  #fail(error: SluiceError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    for (let entry = this.#inRing.shift(); entry !== undefined; entry = this.#inRing.shift())
      entry.reject(error);
    for (let entry = this.#waitingForRoom.shift(); entry !== undefined; entry = this.#waitingForRoom.shift())
      entry.reject(error);
    this.#worker.unref();
    this.#notifyIfDrained();
  }
}
