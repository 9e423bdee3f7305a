/**
 * `scanFile`: one large file visited in parts on worker threads, so a search over it uses every
 * core. Seed 003: ripgrep searching one 9.3 GB file; `scanTree` visits a file on one thread, which
 * leaves the other cores idle when the tree is one big file.
 *
 * The parts are dealt to the threads as they come free (each thread holds its part and the next),
 * not one per thread up front: a thread that started later, or shares its core with something
 * else, then visits fewer parts instead of finishing last.
 *
 * Invariants: the parts cover [0, size) with no gap and no overlap of their own bytes; each part's
 * visit reads from `start - overlap` (at least 0) to its `end`, so with an overlap of a pattern's
 * length less one, a match is seen whole by exactly one part (the one holding its last byte); the
 * results reach `onResult` in part order; after a failure or an abort no part is sent, every thread
 * stops at its next window and reports back before the threads are terminated, so every descriptor
 * is closed and every thread gone when the promise settles.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { AbortError, InvalidArgumentError, NotAFileError } from '../errors.js';
import { fromOsError, kindOf } from './os-errors.js';
import {
  DEFAULT_MAX_WORKERS,
  failureError,
  type ScanFilePart,
  type ScanWorkerVisitor,
  validateWorkerVisitor,
  visitorError,
  workerVisitorSpec,
} from './scan.js';
import type { WorkerReply } from './scan-protocol.js';
import { ScanWorkers } from './scan-workers.js';

/**
 * Each thread's share is at least this large: below it, a thread's start-up (~15-40 ms of CPU)
 * costs more than it saves.
 */
export const MIN_PART_BYTES = 4 * 1024 * 1024;
/**
 * Parts are about this large when the file has room for more than one per thread: small enough that
 * the last one to finish ends soon after the others (32 MiB is ~10 ms of search here), large enough
 * that the message per part (~50-100 us each way) is noise.
 */
export const PART_BYTES = 32 * 1024 * 1024;

export interface ScanFileOptions {
  /** Worker threads, 1 .. 64 (default: one per core, at most 4; fewer for a small file: 4 MiB each). */
  workers?: number;
  /**
   * Bytes each part's visit reads before its own start (default 0): for a search of patterns up to
   * n bytes long, n - 1, so that a match across a part boundary is seen whole by one part.
   */
  overlap?: number;
  /** Aborting stops every thread after its current window; `scanFile` rejects with `SLUICE_ERR_ABORTED`. */
  signal?: AbortSignal;
}

export interface ScanFileSummary {
  /** The file's size when opened. */
  size: number;
  /** The parts visited: one per thread, or about 32 MiB each when the file is larger. */
  parts: number;
}

/**
 * Visits the file at `path` in parts on worker threads, with a `ScanWorkerVisitor` (as
 * `scanTree`'s): each visit gets a `WorkerScanFile` whose `part` says which bytes it covers, and
 * `onResult(result, { path, relativePath, size, part })` gets each part's result, in part order.
 *
 * Errors: `SLUICE_ERR_INVALID_ARGUMENT` (bad arguments, a visitor module that does not load),
 * `SLUICE_ERR_FILE_NOT_FOUND`, `SLUICE_ERR_NOT_A_FILE`, `SLUICE_ERR_FILE_PERMISSION`,
 * `SLUICE_ERR_FILE_SHRANK` (the file shrank before a part was read), `SLUICE_ERR_FILE_READ`,
 * `SLUICE_ERR_ABORTED`, `SLUICE_ERR_READ_WORKER`, or the visitor's own error as thrown.
 */
export async function scanFile(
  path: string,
  visitor: ScanWorkerVisitor,
  options: ScanFileOptions = {},
): Promise<ScanFileSummary> {
  validate(path, visitor, options);
  const { signal } = options;
  if (signal?.aborted) throw new AbortError(`scanning ${path}`, signal.reason);
  const file = nodePath.resolve(path);
  let stats: fs.Stats;
  try {
    stats = await fs.promises.stat(file);
  } catch (error) {
    throw fromOsError(file, error);
  }
  if (!stats.isFile()) throw new NotAFileError(file, kindOf(stats));
  // Aborted during the stat: the listener below would never hear it. From here until it is added,
  // nothing awaits.
  if (signal?.aborted) throw new AbortError(`scanning ${path}`, signal.reason);
  const threads = threadsFor(stats.size, options.workers ?? DEFAULT_MAX_WORKERS);
  const parts = cut(stats.size, threads, options.overlap ?? 0);
  const entry = { path: file, relativePath: nodePath.basename(file) };
  const spec = workerVisitorSpec(visitor);

  /** Each part's visit result, by part index (undefined: the visit returned nothing). */
  const results = new Map<number, unknown>();
  let failure: unknown;
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  // Settled once no part is out on a thread: every visit ended (a thread stops at its next window
  // once told to), so every descriptor is closed before the threads are terminated.
  const check = (): void => {
    if (workers.inFlight === 0) settle();
  };
  const fail = (error: unknown): void => {
    failure ??= error;
    workers.stop();
  };
  const ids = new Map<number, number>(); // request id -> part index
  let sent = 0;
  /** Sends the next parts while a thread has room (its part and the next), unless the scan failed. */
  const deal = (): void => {
    while (sent < parts.length && failure === undefined && workers.ready) {
      const part = parts[sent++]!;
      ids.set(workers.sendPart({ path: file, ...part }), part.index);
    }
  };
  const workers = new ScanWorkers(
    threads,
    nodePath.dirname(file),
    spec,
    (reply: WorkerReply) => {
      const index = ids.get(reply.id);
      if (index !== undefined && failure === undefined) {
        if (reply.kind === 'visitor-error') fail(visitorError(reply, spec.module));
        else if (reply.kind === 'visit') {
          const outcome = reply.notes[0]?.outcome;
          if (outcome !== undefined && outcome.kind !== 'visited') fail(failureError(entry, outcome));
          else results.set(index, outcome?.result);
        }
      }
      deal();
      check();
    },
    (error) => {
      fail(error);
      check();
    },
  );
  const onAbort = (): void => {
    fail(new AbortError(`scanning ${file}`, signal?.reason));
    check();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    deal();
    await settled;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await workers.terminate();
  }
  if (failure !== undefined) throw failure;
  const { onResult } = visitor;
  if (onResult !== undefined) {
    for (const part of parts) {
      const result = results.get(part.index);
      if (result !== undefined) onResult(result, { ...entry, size: stats.size, part });
    }
  }
  return { size: stats.size, parts: parts.length };
}

/** Threads for a file of `size` bytes: `workers`, fewer for a small file (MIN_PART_BYTES each), >= 1. */
function threadsFor(size: number, workers: number): number {
  return Math.max(1, Math.min(workers, Math.floor(size / MIN_PART_BYTES)));
}

/**
 * Parts covering [0, size), each reading `overlap` bytes before its start: one per thread, or about
 * PART_BYTES each when that makes more.
 */
function cut(size: number, threads: number, overlap: number): ScanFilePart[] {
  const count = Math.max(threads, Math.round(size / PART_BYTES));
  const parts: ScanFilePart[] = [];
  for (let index = 0; index < count; index++) {
    const start = Math.floor((size * index) / count);
    const end = Math.floor((size * (index + 1)) / count);
    parts.push({ index, count, start, end, from: Math.max(0, start - overlap) });
  }
  return parts;
}

function validate(path: string, visitor: ScanWorkerVisitor, options: ScanFileOptions): void {
  if (typeof path !== 'string' || path.length === 0)
    throw new InvalidArgumentError('path', 'a non-empty string', path);
  if (path.includes('\0')) throw new InvalidArgumentError('path', 'a path without NUL bytes', path);
  if (typeof visitor !== 'object' || visitor === null || typeof visitor === 'function')
    throw new InvalidArgumentError('visitor', 'a ScanWorkerVisitor ({ module, ... })', visitor);
  validateWorkerVisitor(visitor);
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options', 'an object', options);
  const { workers, overlap, signal } = options;
  if (workers !== undefined && (!Number.isSafeInteger(workers) || workers < 1 || workers > 64))
    throw new InvalidArgumentError('workers', 'an integer from 1 to 64', workers);
  if (overlap !== undefined && (!Number.isSafeInteger(overlap) || overlap < 0))
    throw new InvalidArgumentError('overlap', 'an integer >= 0', overlap);
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new InvalidArgumentError('signal', 'an AbortSignal', signal);
}
