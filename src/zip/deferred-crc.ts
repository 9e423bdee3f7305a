/**
 * `DeferredCrc`: the CRC-32 of one version of a file, known now (from the CRC cache) or computed
 * when a stream first needs it. `zipDirectory(dir, { deferCrcs: true })` puts one in each file
 * entry's `crc32`, so a plan is made from the directory listing alone and its first byte goes out
 * before the CRCs of later files are known (the layout depends on sizes only).
 *
 * Invariants:
 * - a computation reads the file on a CRC thread (the threadpool with the native addon, else a
 *   worker thread), or through the managed reader on the main thread (`workers: 0`; without the
 *   addon also when the plan has little to checksum, or while the worker threads start), and succeeds only when
 *   the file was the planned version before its first read and after its last (`file-version.ts`);
 *   else `SLUICE_ERR_ZIP_SOURCE_CHANGED`;
 * - one computation per file version in the process at a time, shared by every caller (two plans,
 *   or 5000 downloads of one plan, read a cold file once); it is cancelled, and its file closed,
 *   when its last waiter gives up, and `get()` of that last waiter settles only after that;
 * - a computed CRC goes into the cache unless the file is racily clean (modified less than 2 s
 *   before the read started); a racily clean CRC is `verify`: the stream checks the bytes it sends.
 */
import { stat } from 'node:fs/promises';
import { AbortError } from '../errors.js';
import { openReader } from '../file/index.js';
import { fromOsError } from '../file/os-errors.js';
import { CrcCache } from './crc-cache.js';
import { crcOffThread, crcWorkersStarting, startCrcWorkers } from './crc-workers.js';
import { crc32 } from './crc32.js';
import { checkStats, checkVersion, type FileVersion, versionOf } from './file-version.js';

/**
 * A file modified less than this long before its CRC is read may change again within the same
 * timestamp tick (2 s on FAT, coarse on some network file systems) without a new mtime.
 */
export const RACY_MARGIN_NS = 2_000_000_000n;

/** How deferred CRCs of one listing are computed. */
export interface CrcContext {
  /** Where computed CRCs are stored (and looked up again before computing); none: not stored. */
  readonly cache: CrcCache | undefined;
  /** CRC threads to use (started by the first computation); 0: the main thread, through the managed reader. */
  readonly threads: number;
  /** How many CRCs one stream computes at once (at least 1). */
  readonly parallel: number;
}

interface Computed {
  crc: number;
  /** Racily clean when read: the bytes streamed are checked against the CRC. */
  verify: boolean;
}

interface Computation {
  /** Settles with the outcome; never rejects. */
  readonly done: Promise<Computed | Error>;
  readonly stop: AbortController;
  waiters: number;
}

/** Computations running in this process, by file version (`CrcCache.key`). */
const running = new Map<string, Computation>();

const ABORTED: unique symbol = Symbol('aborted');

export class DeferredCrc {
  /** The file read for the CRC (and for the archive's bytes). */
  readonly source: string;
  readonly version: FileVersion;
  readonly #context: CrcContext;
  #value: number | undefined;
  #verify = false;

  /** Made by `zipDirectory`; `known` is the CRC when the cache had it. */
  constructor(source: string, version: FileVersion, context: CrcContext, known?: number) {
    this.source = source;
    this.version = version;
    this.#context = context;
    this.#value = known;
  }

  /** The CRC-32 when known (from the cache, or computed by an earlier `get()`). */
  get value(): number | undefined {
    return this.#value;
  }

  /** True when the CRC was computed from a racily clean file: whoever streams the file checks its bytes. */
  get verify(): boolean {
    return this.#verify;
  }

  /** How many CRCs of its listing a stream computes at once. */
  get parallelism(): number {
    return this.#context.parallel;
  }

  /** Its file's size in bytes (the entry's size). */
  get size(): number {
    return Number(this.version.size);
  }

  /**
   * The CRC-32, computing it now if unknown (sharing a computation already running for the same
   * file version). Rejects with `SLUICE_ERR_ZIP_SOURCE_CHANGED` when the file is no longer the
   * planned version, the sluice/file codes when it cannot be read, and `SLUICE_ERR_ABORTED` when
   * `signal` aborts (the computation stops when no one else waits for it).
   */
  async get(signal?: AbortSignal): Promise<number> {
    if (this.#value !== undefined) return this.#value;
    throwIfAborted(this.source, signal);
    const { cache } = this.#context;
    if (cache?.has(this.version) === true) {
      // another plan of the same file computed it meanwhile
      this.#value = cache.get(this.version)!;
      return this.#value;
    }
    const key = CrcCache.key(this.version);
    let computation = running.get(key);
    if (computation === undefined) {
      const started = startComputation(this.source, this.version, this.#context);
      computation = started;
      running.set(key, started);
      void started.done.then(() => {
        if (running.get(key) === started) running.delete(key);
      });
    }
    computation.waiters++;
    const outcome = await untilAborted(computation.done, signal);
    computation.waiters--;
    if (outcome === ABORTED) {
      if (computation.waiters === 0) {
        computation.stop.abort();
        await computation.done; // its thread job ended, its file is closed
      }
      throw new AbortError(`computing the CRC-32 of ${this.source}`, signal?.reason);
    }
    if (outcome instanceof Error) throw outcome;
    this.#value ??= outcome.crc;
    this.#verify = outcome.verify;
    return outcome.crc;
  }
}

function throwIfAborted(source: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(`computing the CRC-32 of ${source}`, signal.reason);
}

/** `done`'s outcome, or ABORTED as soon as `signal` aborts. */
function untilAborted<T>(done: Promise<T>, signal: AbortSignal | undefined): Promise<T | typeof ABORTED> {
  if (signal === undefined) return done;
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    void done.then((outcome) => {
      signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    });
  });
}

function startComputation(source: string, version: FileVersion, context: CrcContext): Computation {
  const stop = new AbortController();
  const done = compute(source, version, context, stop.signal).catch((error: unknown) =>
    error instanceof Error ? error : new Error(String(error)),
  );
  return { done, stop, waiters: 0 };
}

async function compute(
  source: string,
  version: FileVersion,
  context: CrcContext,
  signal: AbortSignal,
): Promise<Computed> {
  const readStartNs = BigInt(Date.now()) * 1_000_000n;
  // while the CRC threads are starting, the main thread computes rather than waits (the first
  // header of a cold archive goes out in milliseconds, not after a thread started)
  if (context.threads > 0) startCrcWorkers(context.threads);
  const crc =
    context.threads > 0 && !crcWorkersStarting()
      ? await onCrcThread(source, version, signal)
      : await onMainThread(source, version, signal);
  const verify = version.mtimeNs >= readStartNs - RACY_MARGIN_NS;
  // a CRC that cannot be stored costs a recomputation later, never a wrong byte: not an error here
  if (!verify) await context.cache?.set(version, crc).catch(() => {});
  return { crc, verify };
}

async function onCrcThread(source: string, version: FileVersion, signal: AbortSignal): Promise<number> {
  const { crc, before, after } = await crcOffThread(source, signal);
  checkVersion(source, version, before);
  checkVersion(source, version, after);
  return crc;
}

/**
 * Windows of the main thread's CRC reads: small, since they run beside the stream's own reader (whose
 * 2 MiB windows come from the same process) only while the CRC threads start. With the planner's
 * 2 MiB windows and 4 reads in flight, the lab's cold archive peaked at 115 MB RSS (archiver: 103);
 * with these, 102.6 MB (archiver 103.1; medians of 5).
 */
const MAIN_THREAD_WINDOW = 256 * 1024;
const MAIN_THREAD_READ_AHEAD = 2;

/** Copies on the threadpool, CRC here; the version checked at open (fstat) and after (stat). */
async function onMainThread(source: string, version: FileVersion, signal: AbortSignal): Promise<number> {
  const reader = await openReader(source, {
    signal,
    windowSize: MAIN_THREAD_WINDOW,
    readAhead: MAIN_THREAD_READ_AHEAD,
  });
  let crc = 0;
  try {
    checkStats(source, version, reader.stats);
    for (let window = await reader.next(); window !== null; window = await reader.next()) {
      crc = crc32(window, crc);
    }
  } finally {
    await reader.close();
  }
  let after: FileVersion;
  try {
    after = versionOf(await stat(source, { bigint: true }));
  } catch (error) {
    throw fromOsError(source, error);
  }
  checkVersion(source, version, after);
  return crc;
}
