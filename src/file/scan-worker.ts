/**
 * A `scanTree` worker thread: reads batches of files synchronously (open, fstat, read, close) and
 * answers with one message per batch. Seed 003: "querying N files necessarily results in O(N)
 * syscalls" but need not cost O(N) thread hand-offs; one message carries up to `SCAN_BATCH_FILES`.
 * - `read` batches (visits on the main thread): into a shared slab it is lent, given back with the
 *   reply (a message carries paths and outcomes only; transferring a 2 MiB ArrayBuffer each way
 *   cost ~100 us);
 * - `visit` batches (a `ScanWorkerVisitor`): each file is read into this thread's own buffer and
 *   visited here, by the visitor module loaded once per thread; only outcomes and results go back.
 *   Batches are handled one after the other, each visit awaited before the next file is opened.
 *
 * Invariants: one file open at a time, closed before the next is opened (even on errors); the slab
 * is only written before the reply is sent; a file is read whole only if it is at most
 * `maxFileBytes` and fits in what is left of the slab or of the batch's overflow budget (a buffer of
 * its own, transferred with the reply), so a batch holds at most one slab plus that budget.
 */
import fs from 'node:fs';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getSystemErrorMap } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import { isPromiseLike } from '../internal/promise-like.js';
import { READ_FILES_CALLS, READ_FILES_SLOTS, type ReadFiles, ReadFilesOutcome, readFiles } from './native.js';
import { readFullySync } from './read-fully.js';
import type {
  FileFailure,
  FileOutcome,
  PartRequest,
  ReadRequest,
  ScanWorkerData,
  VisitOutcome,
  VisitReply,
  VisitRequest,
  WorkerReply,
  WorkerRequest,
} from './scan-protocol.js';
import { PATH_SEPARATOR } from './scan-protocol.js';
import type { FileStats } from './types.js';

/** Where a file's bytes may go: the slab's free room, else a buffer of its own within a budget. */
interface Room {
  slab: Uint8Array;
  /** First free byte of the slab. */
  offset: number;
  /** Bytes still allowed in buffers of their own. */
  overflow: number;
}

/** Opens `path` and checks it is a regular file; the caller closes the fd. */
function openRegular(path: string): { fd: number; stats: FileStats } | FileFailure {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (error) {
    return osFailure(error);
  }
  try {
    const stats = fs.fstatSync(fd);
    if (stats.isFile()) return { fd, stats: toFileStats(stats) };
    fs.closeSync(fd);
    return { kind: 'not-a-file', directory: stats.isDirectory() };
  } catch (error) {
    fs.closeSync(fd);
    return osFailure(error);
  }
}

function toFileStats(stats: fs.Stats): FileStats {
  return { size: stats.size, mtimeMs: stats.mtimeMs, dev: stats.dev, ino: stats.ino, mode: stats.mode };
}

/**
 * Opens a file the walk found to be a regular file, for a visit here: no fstat (see
 * `WorkerFile.stats`); the caller closes the fd. Opening with O_NONBLOCK: should the entry have
 * been replaced by a FIFO since the listing, it cannot block this thread (it reads as empty).
 */
function openListed(path: string): number | FileFailure {
  try {
    return fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (error) {
    return osFailure(error);
  }
}

function osFailure(error: unknown): FileFailure {
  const { code, message } = error as NodeJS.ErrnoException;
  return { kind: 'error', code: code ?? 'EIO', message };
}

function readOne(path: string, room: Room, maxBytes: number): FileOutcome {
  const opened = openRegular(path);
  if ('kind' in opened) return opened;
  const { fd, stats } = opened;
  try {
    const size = stats.size;
    const inSlab = size <= room.slab.length - room.offset;
    // Too large to read whole, or no room left: the main thread opens a managed reader.
    if (size > maxBytes || (!inSlab && size > room.overflow)) return { kind: 'defer', size };
    // Not zero-filled: every byte is read over below, or the outcome is `shrank` and it is dropped.
    const own = inSlab ? undefined : Buffer.allocUnsafeSlow(size);
    const base = own === undefined ? room.offset : 0;
    const filled = readFullySync(fd, own ?? room.slab, base, size, 0);
    // Bytes appended after the fstat are not read: the file is taken at its size when opened.
    if (filled < size) return { kind: 'shrank', size, at: filled };
    if (own === undefined) room.offset += size;
    else room.overflow -= size;
    return {
      kind: 'read',
      offset: base,
      size,
      stats,
      // allocUnsafeSlow: an ArrayBuffer of its own (not the shared pool's), so it can be transferred
      ...(own === undefined ? {} : { own: own.buffer as ArrayBuffer }),
    };
  } catch (error) {
    return osFailure(error);
  } finally {
    fs.closeSync(fd);
  }
}

const data = workerData as ScanWorkerData;
/** Set by the main thread when the scan failed or was aborted: batches end after the file at hand, a file read in windows at its next window. */
const stop = new Int32Array(data.stop);
const stopped = (): boolean => Atomics.load(stop, 0) !== 0;
/** The slabs, shared with the main thread: a slab is written only while the main thread lends it. */
const slabs = data.slabs.map((slab) => new Uint8Array(slab));

function readBatch(request: ReadRequest): void {
  const room: Room = { slab: slabs[request.slab]!, offset: 0, overflow: request.overflowBytes };
  const outcomes: FileOutcome[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const path of request.paths) {
    if (stopped()) break; // the reply is dropped: the scan has failed
    const outcome = readOne(path, room, request.maxFileBytes);
    if (outcome.kind === 'read' && outcome.own !== undefined) transfer.push(outcome.own);
    outcomes.push(outcome);
  }
  const reply: WorkerReply = { kind: 'read', id: request.id, outcomes, slab: request.slab };
  parentPort!.postMessage(reply, transfer);
}

// ---- visits on this thread ----

/** Bytes of this thread's buffer: a file up to this size is read whole, a larger one in windows this large. */
export const VISIT_BUFFER_BYTES = 4 * 1024 * 1024;

type WorkerVisit = (file: WorkerFile, data: unknown) => unknown;

/** Thrown inside `windows()` when the file ended early; reported as `shrank`, not as the visitor's error. */
class Shrank {
  constructor(
    readonly size: number,
    readonly at: number,
  ) {}
}

/** Thrown inside `windows()` when the scan has stopped (failed or aborted): the reply is dropped. */
class Stopped {}

/** Thrown inside `windows()` when a read fails (EIO...): a problem entry, not the visitor's error. */
class ReadFailed {
  constructor(readonly error: unknown) {}
}

/** The visitor module's function, loaded once (and only in visit mode). */
let visitor: Promise<WorkerVisit> | undefined;

function loadVisitor(spec: NonNullable<ScanWorkerData['visitor']>): Promise<WorkerVisit> {
  const url = isAbsolute(spec.module) ? pathToFileURL(spec.module).href : spec.module;
  return import(url).then((module: Record<string, unknown>) => {
    const visit = module[spec.export];
    if (typeof visit !== 'function') {
      throw new TypeError(`${spec.module} has no function export \`${spec.export}\` (got ${typeof visit})`);
    }
    return visit as WorkerVisit;
  });
}

/** This thread's buffer for visits: one file (or window) at a time. */
let visitBuffer: Buffer | undefined;

/** What a visit on a worker thread gets (`WorkerScanFile`). */
class WorkerFile {
  readonly path: string;
  readonly relativePath: string;
  readonly size: number;
  #stats: FileStats | number | undefined;
  #contents: Buffer | undefined;
  readonly #fd: number;
  /** The bytes `windows()` reads when not in `contents`: [from, to) of the file. */
  readonly #from: number;
  readonly #to: number;
  /** Set for a part of a file (`scanFile`). */
  readonly part: { index: number; count: number; start: number; end: number; from: number } | undefined;
  #ended = false;

  /**
   * `stats` undefined: fetched from the open descriptor if the visit asks (most never do); a
   * number: where `readFiles` put them in `nativeOutcomes` (read only during the visit, before the
   * next call overwrites them). `part`: the visit covers [part.from, part.end) of the file, not all of it.
   */
  constructor(
    path: string,
    fd: number,
    size: number,
    stats: FileStats | number | undefined,
    contents: Buffer | undefined,
    part?: WorkerFile['part'],
  ) {
    this.path = path;
    this.relativePath = path.slice(data.root.length + 1);
    this.size = size;
    this.#stats = stats;
    this.#fd = fd;
    this.#contents = contents;
    this.part = part;
    this.#from = part?.from ?? 0;
    this.#to = part?.end ?? size;
  }

  /**
   * fstat of the open file: taken in C with the file's batch read (`readFiles`), else on first use
   * (an fstat per file and its Stats object, four Dates in Node 20, cost about 8% of a worker's
   * time in the `scan` experiment, and few visits look). Only during the visit.
   */
  get stats(): FileStats {
    // after the visit the descriptor is closed (its number may be another file's by now): never
    // fstat it; and one rule whether or not they were taken already
    if (this.#ended) throw new Error(`the stats of ${this.path} were asked for after its visit ended`);
    if (typeof this.#stats === 'number') this.#stats = statsFromSlots(nativeOutcomes, this.#stats);
    this.#stats ??= toFileStats(fs.fstatSync(this.#fd));
    return this.#stats;
  }

  get contents(): Buffer | undefined {
    return this.#contents;
  }

  *windows(): Generator<Buffer, void, undefined> {
    if (this.#contents !== undefined) {
      if (this.#contents.length > 0) yield this.#contents;
      return;
    }
    const buffer = visitBuffer!;
    for (let position = this.#from; position < this.#to; ) {
      // a large file (or part) stops within a window once the scan has failed or was aborted
      if (stopped()) throw new Stopped();
      const length = Math.min(buffer.length, this.#to - position);
      let filled: number;
      try {
        filled = readFullySync(this.#fd, buffer, 0, length, position);
      } catch (error) {
        throw new ReadFailed(error);
      }
      if (filled < length) throw new Shrank(this.size, position + filled);
      position += filled;
      yield buffer.subarray(0, filled);
    }
  }

  /** The visit settled: `contents` is gone (the buffer is reused for the next file), the file closed. */
  end(): void {
    this.#ended = true;
    this.#contents = undefined;
  }
}

/**
 * Reads an open file into `buffer` up to its end: a file that ends before the buffer is full is
 * the bytes read (its size is what was read: no fstat; bytes appended meanwhile are included). One
 * that fills the buffer is fstat'ed: it is in `contents` if that was all of it, else read again in
 * windows by `windows()` up to the size the fstat saw.
 */
function readForVisit(path: string, fd: number, buffer: Buffer): WorkerFile | FileFailure {
  let filled: number;
  try {
    filled = readFullySync(fd, buffer, 0, buffer.length, 0);
  } catch (error) {
    // a directory put in the file's place since the listing
    if ((error as NodeJS.ErrnoException).code === 'EISDIR') return { kind: 'not-a-file', directory: true };
    return osFailure(error);
  }
  if (filled < buffer.length) return new WorkerFile(path, fd, filled, undefined, buffer.subarray(0, filled));
  let stats: fs.Stats;
  try {
    stats = fs.fstatSync(fd);
  } catch (error) {
    return osFailure(error);
  }
  if (!stats.isFile()) return { kind: 'not-a-file', directory: stats.isDirectory() };
  const contents = stats.size === filled ? buffer.subarray(0, filled) : undefined;
  return new WorkerFile(path, fd, stats.size, toFileStats(stats), contents);
}

/** Where a batch's outcomes go: `sizes[i]` the size visited, NaN when `notes` has the outcome. */
interface BatchOutcomes {
  sizes: Float64Array;
  notes: VisitReply['notes'];
}

function note(outcomes: BatchOutcomes, index: number, outcome: VisitOutcome): void {
  outcomes.sizes[index] = Number.NaN;
  outcomes.notes.push({ index, outcome });
}

/** Thrown by the visitor itself: fatal for the scan; the files after it are not visited. */
class VisitorThrew {
  constructor(
    readonly error: unknown,
    /** The file's index in its batch. */
    readonly index: number,
  ) {}
}

/**
 * Visits one file (its descriptor, when it has one, is closed by the caller); the file's own
 * failures (shrunk, unreadable) become its outcome. Returns a promise only when the visit returned
 * one: a synchronous visit costs no promise and no microtask (70,000 files in the `scan`
 * experiment). Throws (or the promise rejects with) `VisitorThrew` for the visitor's errors.
 */
function visitFile(
  file: WorkerFile,
  index: number,
  visit: WorkerVisit,
  outcomes: BatchOutcomes,
): Promise<void> | undefined {
  let result: unknown;
  try {
    result = visit(file, data.visitor!.data);
  } catch (error) {
    file.end();
    visitFailed(error, index, outcomes);
    return undefined;
  }
  if (!isPromiseLike(result)) {
    file.end();
    visited(result, file.size, index, outcomes);
    return undefined;
  }
  return Promise.resolve(result).then(
    (value) => {
      file.end();
      visited(value, file.size, index, outcomes);
    },
    (error: unknown) => {
      file.end();
      visitFailed(error, index, outcomes);
    },
  );
}

function visited(result: unknown, size: number, index: number, outcomes: BatchOutcomes): void {
  if (result === undefined) outcomes.sizes[index] = size;
  else note(outcomes, index, { kind: 'visited', size, result });
}

/**
 * The file's own failures, even when the visitor let them through, are problem entries; anything
 * else is the visitor's (`VisitorThrew`).
 */
function visitFailed(error: unknown, index: number, outcomes: BatchOutcomes): void {
  if (error instanceof Shrank) note(outcomes, index, { kind: 'shrank', size: error.size, at: error.at });
  else if (error instanceof ReadFailed) note(outcomes, index, osFailure(error.error));
  else if (!(error instanceof Stopped)) throw new VisitorThrew(error, index);
  // Stopped: the scan has ended, nothing of this batch is used
}

/** Opens, reads (whole, or in windows when large) and visits one file, then closes it. */
async function openAndVisit(
  path: string,
  index: number,
  visit: WorkerVisit,
  outcomes: BatchOutcomes,
): Promise<void> {
  const fd = openListed(path);
  if (typeof fd !== 'number') {
    note(outcomes, index, fd);
    return;
  }
  try {
    const opened = readForVisit(path, fd, visitBuffer!);
    if ('kind' in opened) note(outcomes, index, opened);
    else await visitFile(opened, index, visit, outcomes);
  } finally {
    fs.closeSync(fd);
  }
}

/** errno -> [code, message], as libuv names them (`util.getSystemErrorMap`, keyed by -errno). */
let systemErrors: Map<number, [string, string]> | undefined;

/** A failure reported by `readFiles`, worded as fs would word it. */
function nativeFailure(errno: number, call: number, path: string): FileFailure {
  systemErrors ??= getSystemErrorMap();
  const [code, message] = systemErrors.get(-errno) ?? ['EIO', `error ${errno}`];
  return {
    kind: 'error',
    code,
    message: `${code}: ${message}, ${READ_FILES_CALLS[call] ?? 'read'} '${path}'`,
  };
}

/** The stats `readFiles` wrote for the file whose outcome starts at `slots[at]`. */
function statsFromSlots(slots: Float64Array, at: number): FileStats {
  return {
    size: slots[at + 2]!,
    mtimeMs: slots[at + 3]!,
    dev: slots[at + 4]!,
    ino: slots[at + 5]!,
    mode: slots[at + 6]!,
  };
}

/** Outcome numbers for one batch call of `readFiles`, kept for the thread's life. */
let nativeOutcomes = new Float64Array(0);

/**
 * The batch read by the native addon: as many files as fit in this thread's buffer read in one call
 * (no JavaScript between them), then visited from it in order; the buffer is read into again only
 * after those visits settled. A file larger than the buffer is read and visited on its own.
 */
async function visitReadInBatches(
  paths: string[],
  read: ReadFiles,
  visit: WorkerVisit,
  outcomes: BatchOutcomes,
): Promise<number> {
  if (nativeOutcomes.length < paths.length * READ_FILES_SLOTS) {
    nativeOutcomes = new Float64Array(paths.length * READ_FILES_SLOTS);
  }
  const slots = nativeOutcomes;
  const buffer = visitBuffer!;
  let index = 0;
  while (index < paths.length && !stopped()) {
    const handled = read(paths, index, buffer, slots);
    if (handled === 0) {
      // not in readFiles' contract (an empty buffer takes any file that fits in it): never loop
      await openAndVisit(paths[index]!, index, visit, outcomes);
      index++;
      continue;
    }
    for (let k = 0; k < handled; k++, index++) {
      if (stopped()) return index; // the reply is dropped: the scan has failed
      const path = paths[index]!;
      const at = k * READ_FILES_SLOTS;
      const size = slots[at + 2]!;
      switch (slots[at]) {
        case ReadFilesOutcome.WHOLE: {
          const offset = slots[at + 1]!;
          const contents = buffer.subarray(offset, offset + size);
          // its stats stay in `slots` (an object only if the visit asks) until this call's visits settled
          const visiting = visitFile(new WorkerFile(path, -1, size, at, contents), index, visit, outcomes);
          if (visiting !== undefined) await visiting;
          break;
        }
        case ReadFilesOutcome.NOT_A_FILE:
          note(outcomes, index, {
            kind: 'not-a-file',
            directory: (slots[at + 6]! & fs.constants.S_IFMT) === fs.constants.S_IFDIR,
          });
          break;
        case ReadFilesOutcome.TOO_BIG:
          await openAndVisit(path, index, visit, outcomes);
          break;
        case ReadFilesOutcome.SHRANK:
          note(outcomes, index, { kind: 'shrank', size, at: slots[at + 1]! });
          break;
        default:
          note(outcomes, index, nativeFailure(slots[at + 1]!, slots[at + 2]!, path));
      }
    }
  }
  return index;
}

/** One file at a time, each opened, read and visited before the next (without the native addon). */
async function visitOneByOne(paths: string[], visit: WorkerVisit, outcomes: BatchOutcomes): Promise<number> {
  let index = 0;
  for (; index < paths.length; index++) {
    if (stopped()) break; // the reply is dropped: the scan has failed
    await openAndVisit(paths[index]!, index, visit, outcomes);
  }
  return index;
}

/**
 * The visitor, loaded (once per thread), and this thread's buffer; undefined when the module failed
 * to load, which is then the reply to request `id`.
 */
async function readyToVisit(id: number): Promise<WorkerVisit | undefined> {
  try {
    const visit = await visitor!;
    visitBuffer ??= Buffer.allocUnsafeSlow(VISIT_BUFFER_BYTES);
    return visit;
  } catch (error) {
    reply({ kind: 'visitor-error', id, index: 0, error, code: codeOf(error), loading: true });
    return undefined;
  }
}

async function visitBatch(request: VisitRequest): Promise<void> {
  const visit = await readyToVisit(request.id);
  if (visit === undefined) return;
  const paths = request.paths.split(PATH_SEPARATOR);
  const outcomes: BatchOutcomes = { sizes: new Float64Array(paths.length), notes: [] };
  let done: number;
  try {
    done =
      readFiles !== undefined
        ? await visitReadInBatches(paths, readFiles, visit, outcomes)
        : await visitOneByOne(paths, visit, outcomes);
  } catch (error) {
    if (!(error instanceof VisitorThrew)) throw error;
    const { index } = error;
    reply({
      kind: 'visitor-error',
      id: request.id,
      index,
      error: error.error,
      code: codeOf(error.error),
      loading: false,
    });
    return;
  }
  const { sizes, notes } = outcomes;
  const visited = done === paths.length ? sizes : sizes.slice(0, done);
  reply({ kind: 'visit', id: request.id, sizes: visited, notes }, [visited.buffer as ArrayBuffer]);
}

/**
 * One part of one file (`scanFile`): opened and fstat'ed here, its bytes [from, end) in `contents`
 * when they fit in this thread's buffer, else read in windows as the visit iterates. Replies with a
 * `VisitReply` of one entry (or the visitor's error).
 */
async function visitPart(request: PartRequest): Promise<void> {
  const visit = await readyToVisit(request.id);
  if (visit === undefined) return;
  const outcomes: BatchOutcomes = { sizes: new Float64Array(1), notes: [] };
  const fd = openListed(request.path);
  if (typeof fd !== 'number') note(outcomes, 0, fd);
  else {
    try {
      await visitOpenedPart(fd, request, visit, outcomes);
    } catch (error) {
      if (!(error instanceof VisitorThrew)) throw error;
      reply({
        kind: 'visitor-error',
        id: request.id,
        index: 0,
        error: error.error,
        code: codeOf(error.error),
        loading: false,
      });
      return;
    } finally {
      fs.closeSync(fd);
    }
  }
  reply({ kind: 'visit', id: request.id, sizes: outcomes.sizes, notes: outcomes.notes }, [
    outcomes.sizes.buffer as ArrayBuffer,
  ]);
}

async function visitOpenedPart(
  fd: number,
  request: PartRequest,
  visit: WorkerVisit,
  outcomes: BatchOutcomes,
): Promise<void> {
  const { path, index, count, start, end, from } = request;
  let stats: fs.Stats;
  try {
    stats = fs.fstatSync(fd);
  } catch (error) {
    note(outcomes, 0, osFailure(error));
    return;
  }
  if (!stats.isFile()) {
    note(outcomes, 0, { kind: 'not-a-file', directory: stats.isDirectory() });
    return;
  }
  if (stats.size < end) {
    note(outcomes, 0, { kind: 'shrank', size: end, at: stats.size });
    return;
  }
  const buffer = visitBuffer!;
  let contents: Buffer | undefined;
  if (end - from <= buffer.length) {
    let filled: number;
    try {
      filled = readFullySync(fd, buffer, 0, end - from, from);
    } catch (error) {
      note(outcomes, 0, osFailure(error));
      return;
    }
    if (filled < end - from) {
      note(outcomes, 0, { kind: 'shrank', size: end, at: from + filled });
      return;
    }
    contents = buffer.subarray(0, filled);
  }
  const part = { index, count, start, end, from };
  await visitFile(
    new WorkerFile(path, fd, stats.size, toFileStats(stats), contents, part),
    0,
    visit,
    outcomes,
  );
}

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  try {
    parentPort!.postMessage(message, transfer);
  } catch (cloneError) {
    // Structured clone cannot copy it (a function, a symbol...): the scan still ends, with a clear error.
    if (message.kind === 'visit') {
      parentPort!.postMessage({
        kind: 'visitor-error',
        id: message.id,
        index: message.sizes.length,
        error: new TypeError(
          `a visit returned a value that cannot be sent to the main thread: ${String(cloneError)}`,
        ),
        loading: false,
      } satisfies WorkerReply);
    } else if (message.kind === 'visitor-error') {
      parentPort!.postMessage({
        ...message,
        error: new Error(describeThrown(message.error)),
        code: typeof message.code === 'string' || typeof message.code === 'number' ? message.code : undefined,
      } satisfies WorkerReply);
    } else {
      throw cloneError;
    }
  }
}

function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`;
  try {
    return `thrown: ${String(thrown)}`;
  } catch {
    return 'thrown: a value that cannot be described';
  }
}

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

if (data.visitor !== undefined) {
  visitor = loadVisitor(data.visitor);
  // Reported with the first batch (as the scan's error), not as an unhandled rejection.
  visitor.catch(() => {});
}
// Visit batches run one after the other: a visit may await, and the buffer is this thread's.
let visits: Promise<void> = Promise.resolve();

parentPort!.on('message', (request: WorkerRequest) => {
  if (request.kind === 'read') readBatch(request);
  else if (request.kind === 'part') visits = visits.then(() => visitPart(request));
  else visits = visits.then(() => visitBatch(request));
});
