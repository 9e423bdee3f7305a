/**
 * `scanTree`: walk a directory tree and read its files through managed readers, a bounded number
 * at a time (seed 003: ripgrep searching the Linux sources scales with threads issuing read(2);
 * the walk and the reads overlap). Small files are read whole by worker threads in batches (one
 * message per 128 files instead of three threadpool trips per file); larger ones get `openReader`.
 *
 * Invariants:
 * - at most `concurrency` visits run at once (one reader each); besides them, each worker thread
 *   holds at most one file open (and its folder, O_PATH), and at most `DIRECTORY_CONCURRENCY`
 *   directories are being listed;
 * - directory listings pause while `max(1024, 64 * concurrency)` files wait to be visited, so the
 *   queue of pending paths stays bounded by that plus one directory's entries; batches are
 *   bounded by the slabs (two per worker);
 * - files are queued in one order (depth first, names in code point order: `listDirectory`)
 *   whatever finishes first, and batches are visited in the order sent: visits start in that
 *   order (at concurrency 1 they run in it);
 *   every entry ends in exactly one place: visited, reported as a problem, filtered, or counted as a
 *   skipped link; problems are returned sorted by path;
 * - a slab is lent to one batch at a time and comes back only when every visit of its files has
 *   settled (their windows are then released);
 * - a fatal error (the visitor throwing, an abort, a worker dying) stops new work, waits for every
 *   visit and every batch in flight, closes every reader and ends the workers before `scanTree`
 *   rejects.
 */
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import { availableParallelism } from 'node:os';
import nodePath from 'node:path';
import { POISON_BYTE } from '../buffers/pool.js';
import {
  AbortError,
  FileShrankError,
  InvalidArgumentError,
  NotADirectoryError,
  NotAFileError,
  SluiceError,
  SymlinkLoopError,
} from '../errors.js';
import { debugEnabled } from '../internal/debug.js';
import { Fifo } from '../internal/fifo.js';
import { isPromiseLike } from '../internal/promise-like.js';
import { DirentType, direntTypeOf, kindOfType } from './dirent-type.js';
import { type DirectoryListing, listDirectory } from './list-directory.js';
import { fromOsError, kindOf } from './os-errors.js';
import { openReader } from './reader.js';
import { ResidentReader } from './resident-reader.js';
import {
  type FileFailure,
  PATH_SEPARATOR,
  type ScanWorkerData,
  type VisitReply,
  type WorkerReply,
} from './scan-protocol.js';
import { SCAN_BATCH_FILES, SCAN_SLAB_BYTES, ScanWorkers } from './scan-workers.js';
import type { FileStats, ManagedReader, OpenReaderOptions } from './types.js';

/** Upper bound for `concurrency`: each visit holds a file descriptor (the machine limit is often 1024-20000). */
export const MAX_SCAN_CONCURRENCY = 4096;
/**
 * Directories listed at once, ahead of the walk: a large one's listing runs on libuv's threadpool
 * (4 threads by default) beside the reads (small ones are listed synchronously: `listDirectory`).
 */
const DIRECTORY_CONCURRENCY = 4;
/**
 * Files up to this size are read whole by a worker thread. Larger ones (rare in a source tree: in
 * the `scan` experiment's kernel-shaped tree, 207 of 70,000 files exceed 256 KiB, none 4 MiB) get a
 * managed reader on the main thread: several threadpool trips each, which at `concurrency: 1`
 * stalled the pipeline (deferring everything over 256 KiB cost ~250 ms of 950).
 */
const WHOLE_FILE_BYTES = SCAN_SLAB_BYTES;
/**
 * Worker threads by default, besides `concurrency`: with visits on the worker threads, one per core
 * (at most 4, one file open each); with visits on the main thread, one core is left to it. In the
 * `scan` experiment (2 cores, the search on the main thread), 1 reading thread took 678 ms and 2
 * took 860-900 ms: three busy threads on two cores.
 */
export const DEFAULT_MAX_WORKERS = Math.max(1, Math.min(4, availableParallelism()));
const DEFAULT_MAX_READ_WORKERS = Math.max(1, Math.min(4, availableParallelism() - 1));

export interface ScanOptions {
  /** Files open and being visited at once (default 8, at most 4096). */
  concurrency?: number;
  /** Aborting stops the scan: visits in flight see `SLUICE_ERR_ABORTED`, `scanTree` rejects with it. */
  signal?: AbortSignal;
  /** Follow symbolic links to files and directories (default false: links are counted and skipped). */
  followSymlinks?: boolean;
  /** Return false to skip an entry (a directory is then not descended into), e.g. `.git`. */
  filter?: (entry: ScanEntry) => boolean;
  /** Called as each problem is found (it is also in the summary). */
  onProblem?: (problem: ScanProblem) => void;
  /**
   * Worker threads that read files of up to 4 MiB whole, 128 per hand-off, so the main thread pays
   * one message per batch instead of three threadpool trips (open, fstat, close) per file.
   * Default: `min(concurrency, cores - 1, 4)`, at least 1 (a core is left to the main thread's
   * visits); with a `ScanWorkerVisitor`, `min(concurrency, cores, 4)`. 0 opens every file with
   * `openReader`. Each holds at most one file open (and, with the native addon, its folder as an
   * O_PATH descriptor), besides the `concurrency` files being visited.
   */
  workers?: number;
  /** Passed to `openReader` for each file read on the main thread. */
  reader?: Pick<OpenReaderOptions, 'windowSize' | 'readAhead' | 'strategy' | 'pool'>;
}

export interface ScanEntry {
  /** The path as found: the root joined with the names on the way (links not resolved). */
  path: string;
  /** The path relative to the root, with the platform's separator. */
  relativePath: string;
  isDirectory: boolean;
}

/** What the visitor gets: the file's bytes or an open reader on them, both ended by `scanTree` when the visit ends. */
export interface ScanFile {
  readonly path: string;
  readonly relativePath: string;
  /** The file's size when opened. */
  readonly size: number;
  /**
   * The whole file, when a worker thread read it at once (files up to 4 MiB: nearly every file of a
   * source tree). Valid until the visit settles (then undefined here, and the memory is reused;
   * poisoned with 0xDE under `SLUICE_DEBUG=1`): copy what must outlive it. Undefined for larger
   * files, and with `workers: 0`: read those through `reader`.
   */
  readonly contents: Buffer | undefined;
  /**
   * A reader on the file, closed by `scanTree` when the visit ends. For a file in `contents` it is
   * made on first use and has that buffer as its one window.
   */
  readonly reader: ManagedReader;
}

/**
 * May return a promise: the file stays open (and counts against `concurrency`) until it settles. A
 * visitor that returns anything else has finished with the file when it returns: reading
 * `contents` synchronously costs no promise per file, the fastest way through many small files.
 */
export type ScanVisitor = (file: ScanFile) => unknown;

/**
 * Visits that run on the worker threads which read the files, so that a visit's own CPU (a
 * search, a hash, a parse) is spread over cores as ripgrep's threads are (seed 003), and the bytes
 * never cross threads: only what a visit returns does. The `workers` threads (by default
 * `min(concurrency, cores, 4)`) then visit one file at a time each.
 */
export interface ScanWorkerVisitor {
  /**
   * The module exporting the visit function: a `URL`, a `file:` URL string or an absolute path.
   * Loaded once per worker thread; its export is called as `visit(file: WorkerScanFile, data)`.
   * If it returns a promise, the thread awaits it before the next file.
   */
  module: URL | string;
  /** The export's name (default `'visit'`). */
  export?: string;
  /** The second argument of every call: copied to each thread once (structured clone). */
  data?: unknown;
  /**
   * Called on this thread with what each visit returned, when not undefined (structured clone
   * carries it over), in walk order. Throwing stops the scan as a visitor throwing does.
   */
  onResult?: (result: unknown, file: ScanResultFile) => void;
}

/** The file a worker-thread visit's result came from. */
export interface ScanResultFile {
  path: string;
  relativePath: string;
  size: number;
  /** Which part of the file the visit covered (`scanFile`); absent for a whole file. */
  part?: ScanFilePart;
}

/**
 * One part of a file visited by `scanFile`: bytes [start, end) are the part's own; its visit reads
 * from `from` (`start` less the overlap asked for, at least 0), so a pattern crossing `start` is
 * seen whole by exactly this part when the overlap is the pattern's length less one.
 */
export interface ScanFilePart {
  index: number;
  count: number;
  start: number;
  end: number;
  from: number;
}

/** What a visit on a worker thread gets (see `ScanWorkerVisitor`). */
export interface WorkerScanFile {
  readonly path: string;
  readonly relativePath: string;
  /**
   * The file's size: its size when opened (bytes appended later are not read). Without the native
   * addon, for a file in `contents`: the bytes read to its end (bytes appended before that included).
   */
  readonly size: number;
  /**
   * The open file's fstat: taken with the read by the native addon's batch read, else on first use
   * (a visit that never looks costs no fstat). Read it during the visit: asked for after the visit
   * ended, it throws.
   */
  readonly stats: FileStats;
  /**
   * The whole file, for files up to 4 MiB: this thread's buffer, valid until the visit returns
   * (or its promise settles). Undefined for larger files: use `windows()`.
   */
  readonly contents: Buffer | undefined;
  /**
   * The file's bytes in order, in windows of up to 4 MiB read as you iterate, each valid until
   * the next; for a file in `contents`, that one buffer (nothing for an empty file). A file over
   * 4 MiB that shrinks meanwhile is reported as `SLUICE_ERR_FILE_SHRANK`.
   */
  windows(): Iterable<Buffer>;
  /**
   * Set when the visit covers one part of the file (`scanFile`): `contents` (when they fit in
   * 4 MiB) and `windows()` are then the bytes [part.from, part.end), `size` the whole file's.
   */
  readonly part: ScanFilePart | undefined;
}

/** An entry that could not be scanned. Never fatal; the scan goes on. */
export interface ScanProblem {
  path: string;
  relativePath: string;
  /**
   * `SLUICE_ERR_FILE_PERMISSION` (unreadable file or directory), `SLUICE_ERR_FILE_NOT_FOUND`
   * (vanished, or a dangling link), `SLUICE_ERR_SYMLINK_LOOP`, `SLUICE_ERR_NOT_A_FILE` (FIFO, socket,
   * device), or a reading error (`SLUICE_ERR_FILE_SHRANK`, `_FILE_GREW`, `_FILE_READ`).
   */
  code: string;
  error: SluiceError;
}

export interface ScanSummary {
  /** Files visited (the visit returned without an error). */
  files: number;
  /** Sum of the visited files' sizes when opened. */
  bytes: number;
  /** Directories listed, the root included. */
  directories: number;
  /** Symbolic links not followed (`followSymlinks: false`). */
  skippedSymlinks: number;
  /** Entries skipped by `filter`. */
  filtered: number;
  /** Sorted by path. */
  problems: ScanProblem[];
}

/** Errors of one file that make it a problem entry rather than a fatal error of the scan. */
const ENTRY_ERROR_CODES: ReadonlySet<string> = new Set([
  'SLUICE_ERR_FILE_NOT_FOUND',
  'SLUICE_ERR_FILE_PERMISSION',
  'SLUICE_ERR_NOT_A_FILE',
  'SLUICE_ERR_FILE_SHRANK',
  'SLUICE_ERR_FILE_GREW',
  'SLUICE_ERR_FILE_READ',
  'SLUICE_ERR_SYMLINK_LOOP',
]);

interface Pending {
  path: string;
  relativePath: string;
}

/**
 * Visits every regular file under `dir` once, with its bytes (`contents`) or an open
 * `ManagedReader`, at most `concurrency` at a time; or, given a `ScanWorkerVisitor`, on the worker
 * threads. Resolves with a summary once every visit has settled; rejects (after closing
 * everything) when the visitor throws, when aborted, or when `dir` itself cannot be listed.
 */
export async function scanTree(
  dir: string,
  visit: ScanVisitor | ScanWorkerVisitor,
  options: ScanOptions = {},
): Promise<ScanSummary> {
  validate(dir, visit, options);
  const { signal } = options;
  if (signal?.aborted) throw new AbortError(`scanning ${dir}`, signal.reason);
  let rootStats: fs.Stats;
  try {
    rootStats = await fs.promises.stat(dir);
  } catch (error) {
    throw fromOsError(dir, error);
  }
  if (!rootStats.isDirectory())
    throw new NotADirectoryError(dir, rootStats.isFile() ? 'file' : kindOf(rootStats));
  return new Scan(dir, visit, options, rootStats).run();
}

/** One directory of the walk: listed ahead of time (up to `DIRECTORY_CONCURRENCY`), consumed in order. */
interface WalkStep {
  directory: Pending;
  started: boolean;
  /** Set when the listing settled. */
  listed?: Listing | { error: SluiceError };
}

/** The path of the entry `name` of `directory`. */
function pathOf(directory: Pending, name: string): string {
  return directory.path + nodePath.sep + name;
}

/** The entry `name` of `directory`: made only where a path is needed (most files need none here). */
function entryOf(directory: Pending, name: string): Pending {
  return {
    path: pathOf(directory, name),
    relativePath: directory.relativePath === '' ? name : directory.relativePath + nodePath.sep + name,
  };
}

/** A directory's regular files waiting in the queue, in name order, from `next` on. */
interface FileRun {
  directory: Pending;
  names: string[];
  next: number;
}

/** A directory's entries, sorted by name and classified (links stat'ed) while listing ahead. */
interface Listing {
  /** The regular files' names, in name order. */
  files: string[];
  subdirectories: Array<{ item: Pending; key: string | undefined }>;
  problems: Array<{ item: Pending; error: SluiceError }>;
  skippedSymlinks: number;
  filtered: number;
}

/** Files sent to a worker together, and what came back. */
interface Batch {
  id: number;
  /** File i is `names[i]` in `directories[i]` (no object per file: `entryOf` makes one when needed). */
  directories: Pending[];
  names: string[];
  /** The worker's answer, once back. */
  reply: WorkerReply | undefined;
  /** The next file to visit. */
  cursor: number;
  /** Visits of this batch's files not yet settled: the slab is lent out until 0. */
  visits: number;
  released: boolean;
}

class Scan {
  /** The visitor on this thread; undefined when the visits run on the worker threads. */
  readonly #visit: ScanVisitor | undefined;
  readonly #onResult: ScanWorkerVisitor['onResult'];
  /** What the worker threads load when the visits run there (its `module` also names it in errors). */
  readonly #workerVisitor: NonNullable<ScanWorkerData['visitor']> | undefined;
  readonly #concurrency: number;
  readonly #follow: boolean;
  readonly #filter: ScanOptions['filter'];
  readonly #onProblem: ScanOptions['onProblem'];
  readonly #readerOptions: OpenReaderOptions;
  /** `SLUICE_DEBUG=1` when the scan started (read once: the environment is slow to read per file). */
  readonly #debug = debugEnabled();
  readonly #signal: AbortSignal | undefined;
  /** Aborted on the caller's abort or a fatal error: readers in flight stop. */
  readonly #stopper = new AbortController();
  readonly #onAbort: () => void;
  /**
   * The walk, depth first, top at the end. Steps near the top are listed ahead of time, but a
   * step is consumed (its files queued, its subdirectories pushed) only when it is the top: so
   * files enter the queue in one order, the same on every run, whatever finishes first.
   */
  readonly #walk: WalkStep[] = [];
  readonly #files = new Fifo<FileRun>(64);
  /** Files in `#files`, every run's names from its `next` on. */
  #queuedFiles = 0;
  readonly #highWater: number;
  /** `dev:ino` of each directory consumed, when following links (a loop shows up as a repeat). */
  readonly #seenDirectories = new Map<string, string>();
  readonly #summary: ScanSummary = {
    files: 0,
    bytes: 0,
    directories: 0,
    skippedSymlinks: 0,
    filtered: 0,
    problems: [],
  };
  /** Worker threads reading small files in batches; undefined with `workers: 0`. */
  readonly #workers: ScanWorkers | undefined;
  /** Batches sent to the workers, in the order sent; the head is visited first. */
  readonly #batches: Batch[] = [];
  #listing = 0;
  #visiting = 0;
  #fatal: { error: unknown } | undefined;
  #settle!: () => void;
  readonly #done = new Promise<void>((resolve) => {
    this.#settle = resolve;
  });

  constructor(
    root: string,
    visit: ScanVisitor | ScanWorkerVisitor,
    options: ScanOptions,
    rootStats: fs.Stats,
  ) {
    const onThreads = typeof visit !== 'function';
    this.#visit = onThreads ? undefined : visit;
    this.#onResult = onThreads ? visit.onResult : undefined;
    this.#workerVisitor = onThreads ? workerVisitorSpec(visit) : undefined;
    this.#concurrency = options.concurrency ?? 8;
    this.#follow = options.followSymlinks === true;
    this.#filter = options.filter;
    this.#onProblem = options.onProblem;
    this.#signal = options.signal;
    // Every open reader listens to the stopper: up to `concurrency` listeners, all expected.
    setMaxListeners(this.#concurrency + 16, this.#stopper.signal);
    this.#readerOptions = { ...options.reader, signal: this.#stopper.signal };
    this.#highWater = Math.max(1024, this.#concurrency * 64);
    this.#onAbort = () => this.#fail(new AbortError(`scanning ${root}`, this.#signal?.reason));
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (this.#follow) this.#seenDirectories.set(`${rootStats.dev}:${rootStats.ino}`, root);
    this.#walk.push({ directory: { path: root, relativePath: '' }, started: false });
    const workers =
      options.workers ??
      Math.min(this.#concurrency, onThreads ? DEFAULT_MAX_WORKERS : DEFAULT_MAX_READ_WORKERS);
    this.#workers =
      workers === 0
        ? undefined
        : new ScanWorkers(
            workers,
            root,
            this.#workerVisitor,
            (reply) => this.#onBatch(reply),
            (error) => {
              this.#fail(error);
              // A later thread's failure also changes what is in flight: the scan may settle now.
              this.#pump();
            },
          );
  }

  async run(): Promise<ScanSummary> {
    if (this.#signal?.aborted) this.#onAbort();
    try {
      this.#pump();
      await this.#done;
    } finally {
      this.#signal?.removeEventListener('abort', this.#onAbort);
      await this.#workers?.terminate();
    }
    if (this.#fatal !== undefined) throw this.#fatal.error;
    this.#summary.problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return this.#summary;
  }

  /** Starts whatever the bounds allow; settles the scan when nothing is left or running. */
  #pump(): void {
    if (this.#fatal === undefined) {
      // Consume listed directories from the top while the file queue has room.
      while (this.#walk.length > 0 && this.#queuedFiles < this.#highWater) {
        const top = this.#walk[this.#walk.length - 1]!;
        if (top.listed === undefined) break;
        this.#walk.pop();
        this.#consume(top.directory, top.listed);
        if (this.#fatal !== undefined) break;
      }
      if (this.#workers === undefined) {
        while (this.#visiting < this.#concurrency && this.#queuedFiles > 0)
          this.#startVisit(this.#takeFile());
      } else {
        this.#dispatchBatches(this.#workers);
        this.#visitBatches(this.#workers);
        // Synchronous visits may have given slabs back just now, with no event left to come.
        this.#dispatchBatches(this.#workers);
      }
      // List ahead: the steps nearest the top first, within the queue's room.
      for (
        let index = this.#walk.length - 1;
        index >= 0 && this.#listing < DIRECTORY_CONCURRENCY && this.#queuedFiles < this.#highWater;
        index--
      ) {
        const step = this.#walk[index]!;
        if (step.started) continue;
        step.started = true;
        this.#listing++;
        void this.#list(step.directory).then((listed) => {
          step.listed = listed;
          this.#listing--;
          this.#pump();
        });
      }
    }
    // Batches out on the workers always come back (their files are closed there) before we settle.
    const idle = this.#visiting === 0 && this.#listing === 0 && (this.#workers?.inFlight ?? 0) === 0;
    const drained = this.#queuedFiles === 0 && this.#walk.length === 0 && this.#batches.length === 0;
    if (idle && (this.#fatal !== undefined || drained)) this.#settle();
  }

  /** Hands queued files to the worker threads, up to `SCAN_BATCH_FILES` per message, while slabs are free. */
  #dispatchBatches(workers: ScanWorkers): void {
    while (this.#queuedFiles > 0 && workers.ready) {
      const directories: Pending[] = [];
      const names: string[] = [];
      const paths: string[] = [];
      while (names.length < SCAN_BATCH_FILES && this.#queuedFiles > 0) {
        const run = this.#take();
        const name = run.names[run.next - 1]!;
        directories.push(run.directory);
        names.push(name);
        paths.push(pathOf(run.directory, name));
      }
      const id =
        this.#visit === undefined
          ? workers.sendVisit(paths.join(PATH_SEPARATOR))
          : workers.sendRead(paths, WHOLE_FILE_BYTES, SCAN_SLAB_BYTES);
      this.#batches.push({ id, directories, names, reply: undefined, cursor: 0, visits: 0, released: false });
    }
  }

  /**
   * Starts visits from the batches in the order they were sent (so visits start in walk order),
   * within `concurrency`; a batch's slab goes back once every visit of it has settled.
   */
  #visitBatches(workers: ScanWorkers): void {
    // A visit may fail the scan (the visitor throwing): nothing more starts then.
    while (this.#fatal === undefined && this.#visiting < this.#concurrency && this.#batches.length > 0) {
      const batch = this.#batches[0]!;
      const outcome = batch.reply;
      if (outcome === undefined) return;
      if (outcome.kind !== 'read') {
        // visited on a worker thread already: account for it, in walk order
        this.#batches.shift();
        if (outcome.kind === 'visit') this.#applyVisits(batch, outcome);
        else this.#fail(visitorError(outcome, this.#workerVisitor!.module));
        continue;
      }
      if (batch.cursor === batch.names.length) {
        this.#batches.shift();
        this.#releaseIfDone(workers, batch);
        continue;
      }
      const file = entryOf(batch.directories[batch.cursor]!, batch.names[batch.cursor]!);
      const result = outcome.outcomes[batch.cursor]!;
      batch.cursor++;
      if (result.kind === 'read') {
        this.#visitResident(
          new ResidentFile(file, workers.window(outcome.slab, result), result.stats, this.#stopper.signal),
          workers,
          batch,
        );
      } else if (result.kind === 'defer') this.#startVisit(file);
      else this.#problem(file, failureError(file, result));
    }
  }

  /** Accounts for a batch visited on a worker thread: the summary, `onResult` in walk order, problems. */
  #applyVisits(batch: Batch, reply: VisitReply): void {
    const { sizes, notes } = reply;
    let next = 0; // the next note
    for (let index = 0; index < sizes.length && this.#fatal === undefined; index++) {
      const size = sizes[index]!;
      if (!Number.isNaN(size)) {
        // visited, nothing returned
        this.#visited(size);
        continue;
      }
      const file = entryOf(batch.directories[index]!, batch.names[index]!);
      const outcome = notes[next++]!.outcome;
      if (outcome.kind !== 'visited') {
        this.#problem(file, failureError(file, outcome));
        continue;
      }
      this.#visited(outcome.size);
      if (outcome.result === undefined || this.#onResult === undefined) continue;
      try {
        this.#onResult(outcome.result, {
          path: file.path,
          relativePath: file.relativePath,
          size: outcome.size,
        });
      } catch (error) {
        this.#fail(error);
      }
    }
  }

  /** Lends the slab out again once every file of the batch was visited (exactly once per batch). */
  #releaseIfDone(workers: ScanWorkers, batch: Batch): void {
    if (batch.released || batch.visits > 0 || batch.cursor < batch.names.length) return;
    batch.released = true;
    workers.release((batch.reply as { slab: number }).slab);
  }

  /**
   * Visits a file a worker read whole. A visitor that returns no promise is done when it returns:
   * no promise, no reader (unless it asked for one), no turn of the event loop per file.
   */
  #visitResident(file: ResidentFile, workers: ScanWorkers, batch: Batch): void {
    let result: unknown;
    try {
      result = this.#visit!(file);
    } catch (error) {
      file.end(this.#debug);
      this.#entryError(file, error);
      return;
    }
    if (!isPromiseLike(result)) {
      file.end(this.#debug);
      this.#visited(file.size);
      return;
    }
    this.#visiting++;
    batch.visits++;
    Promise.resolve(result)
      .then(
        () => this.#visited(file.size),
        (error: unknown) => this.#entryError(file, error),
      )
      .finally(() => {
        file.end(this.#debug);
        this.#visiting--;
        batch.visits--;
        this.#releaseIfDone(workers, batch);
        this.#pump();
      });
  }

  #visited(size: number): void {
    this.#summary.files++;
    this.#summary.bytes += size;
  }

  /** Takes the next queued file off its run (its name is then `run.names[run.next - 1]`). */
  #take(): FileRun {
    const run = this.#files.peek()!;
    run.next++;
    if (run.next === run.names.length) this.#files.shift();
    this.#queuedFiles--;
    return run;
  }

  /** The next queued file, as an entry (with `workers: 0`, where every file gets a reader here). */
  #takeFile(): Pending {
    const run = this.#take();
    return entryOf(run.directory, run.names[run.next - 1]!);
  }

  #startVisit(file: Pending): void {
    this.#visiting++;
    void this.#visitFile(file).finally(() => {
      this.#visiting--;
      this.#pump();
    });
  }

  #onBatch(reply: WorkerReply): void {
    const batch = this.#batches.find((candidate) => candidate.id === reply.id);
    if (batch !== undefined) batch.reply = reply;
    else if (reply.kind === 'read') this.#workers?.release(reply.slab);
    this.#pump();
  }

  /** Lists and classifies one directory; never rejects. */
  async #list(directory: Pending): Promise<Listing | { error: SluiceError }> {
    let listed: DirectoryListing;
    try {
      // in name order: the walk follows one order on every run
      listed = await listDirectory(directory.path);
    } catch (error) {
      return { error: fromOsError(directory.path, error) };
    }
    const { names, types } = listed;
    const listing: Listing = { files: [], subdirectories: [], problems: [], skippedSymlinks: 0, filtered: 0 };
    for (let index = 0; index < names.length; index++) {
      const name = names[index]!;
      let type = types[index]!;
      // Objects and paths only for what is not a plain file: a file needs its name alone until sent.
      let item: Pending | undefined;
      let key: string | undefined;
      if (type === DirentType.SYMBOLIC_LINK || (this.#follow && type === DirentType.DIRECTORY)) {
        if (!this.#follow) {
          listing.skippedSymlinks++;
          continue;
        }
        item = entryOf(directory, name);
        let stats: fs.Stats;
        try {
          stats = await fs.promises.stat(item.path);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          const problem = code === 'ELOOP' ? new SymlinkLoopError(item.path) : fromOsError(item.path, error);
          listing.problems.push({ item, error: problem });
          continue;
        }
        type = direntTypeOf(stats);
        key = `${stats.dev}:${stats.ino}`;
      }
      if (this.#filter !== undefined) {
        item ??= entryOf(directory, name);
        if (!this.#filter({ ...item, isDirectory: type === DirentType.DIRECTORY })) {
          listing.filtered++;
          continue;
        }
      }
      if (type === DirentType.FILE) listing.files.push(name);
      else if (type === DirentType.DIRECTORY) {
        listing.subdirectories.push({ item: item ?? entryOf(directory, name), key });
      } else {
        item ??= entryOf(directory, name);
        listing.problems.push({ item, error: new NotAFileError(item.path, kindOfType(type)) });
      }
    }
    return listing;
  }

  /** Applies a directory's listing, in walk order: queues files, pushes subdirectories, reports. */
  #consume(directory: Pending, listed: Listing | { error: SluiceError }): void {
    if ('error' in listed) {
      // The root failing to list is fatal; any other directory is a problem entry.
      if (directory.relativePath === '') this.#fail(listed.error);
      else this.#problem(directory, listed.error);
      return;
    }
    this.#summary.directories++;
    this.#summary.skippedSymlinks += listed.skippedSymlinks;
    this.#summary.filtered += listed.filtered;
    for (const { item, error } of listed.problems) this.#problem(item, error);
    if (listed.files.length > 0) {
      this.#files.push({ directory, names: listed.files, next: 0 });
      this.#queuedFiles += listed.files.length;
    }
    const accepted: Pending[] = [];
    for (const { item, key } of listed.subdirectories) {
      if (key !== undefined) {
        const seen = this.#seenDirectories.get(key);
        if (seen !== undefined) {
          this.#problem(item, new SymlinkLoopError(item.path, seen));
          continue;
        }
        this.#seenDirectories.set(key, item.path);
      }
      accepted.push(item);
    }
    // Pushed in reverse so the walk takes them in name order.
    for (let index = accepted.length - 1; index >= 0; index--) {
      this.#walk.push({ directory: accepted[index]!, started: false });
    }
  }

  /** Visits a file through a managed reader opened here (too large for a worker, or `workers: 0`). */
  async #visitFile(file: Pending): Promise<void> {
    let reader: ManagedReader;
    try {
      reader = await openReader(file.path, this.#readerOptions);
    } catch (error) {
      this.#entryError(file, error);
      return;
    }
    try {
      const scanFile: ScanFile = {
        path: file.path,
        relativePath: file.relativePath,
        size: reader.size,
        contents: undefined,
        reader,
      };
      await this.#visit!(scanFile);
      this.#visited(reader.size);
    } catch (error) {
      this.#entryError(file, error);
    } finally {
      await reader.close();
    }
  }

  /** A file's own error is a problem entry; anything else (the visitor's bug, an abort) is fatal. */
  #entryError(file: Pending, error: unknown): void {
    if (this.#fatal !== undefined) return;
    if (error instanceof SluiceError && ENTRY_ERROR_CODES.has(error.code)) this.#problem(file, error);
    else this.#fail(error);
  }

  #problem(entry: Pending, error: SluiceError): void {
    const problem: ScanProblem = {
      path: entry.path,
      relativePath: entry.relativePath,
      code: error.code,
      error,
    };
    this.#summary.problems.push(problem);
    this.#onProblem?.(problem);
  }

  #fail(error: unknown): void {
    if (this.#fatal !== undefined) return;
    this.#fatal = { error };
    this.#stopper.abort(error);
    // Worker threads stop their batches after the file at hand (their replies are then dropped).
    this.#workers?.stop();
    this.#pump();
  }
}

/**
 * The `ScanFile` of a file a worker read whole into a slab. Its reader is made only if the visitor
 * asks for it; `end()` (once the visit settled) closes it and lets go of the slab's bytes.
 */
class ResidentFile implements ScanFile {
  readonly path: string;
  readonly relativePath: string;
  readonly size: number;
  readonly #stats: FileStats;
  readonly #signal: AbortSignal;
  #contents: Buffer | undefined;
  #reader: ResidentReader | undefined;

  constructor(file: Pending, contents: Buffer, stats: FileStats, signal: AbortSignal) {
    this.path = file.path;
    this.relativePath = file.relativePath;
    this.size = contents.length;
    this.#contents = contents;
    this.#stats = stats;
    this.#signal = signal;
  }

  get contents(): Buffer | undefined {
    return this.#contents;
  }

  get reader(): ManagedReader {
    if (this.#reader === undefined) {
      // After the visit the bytes are gone: a reader made then is closed (next() rejects).
      this.#reader = new ResidentReader(this.path, this.#contents ?? EMPTY, this.#stats, this.#signal);
      if (this.#contents === undefined) void this.#reader.close();
    }
    return this.#reader;
  }

  /** The visit settled: the slab's bytes may be reused from now on (poisoned first under debug). */
  end(poison: boolean): void {
    const contents = this.#contents;
    if (contents === undefined) return;
    this.#contents = undefined;
    void this.#reader?.close();
    // As the pool's released slabs: a view kept past the visit reads 0xDE.
    if (poison) contents.fill(POISON_BYTE);
  }
}

const EMPTY = Buffer.alloc(0);

/** What the worker threads need of a `ScanWorkerVisitor` (validated already). */
export function workerVisitorSpec(visitor: ScanWorkerVisitor): NonNullable<ScanWorkerData['visitor']> {
  return {
    module: visitor.module instanceof URL ? visitor.module.href : visitor.module,
    export: visitor.export ?? 'visit',
    data: visitor.data,
  };
}

/** The error a worker thread reported for the visitor: as thrown (with its `code`), or a load failure. */
export function visitorError(
  reply: Extract<WorkerReply, { kind: 'visitor-error' }>,
  module: string,
): unknown {
  const { error, code } = reply;
  if (reply.loading) {
    const why = error instanceof Error ? error.message : String(error);
    return new InvalidArgumentError(
      'visit.module',
      `a module with the function export named by visit.export (loading it failed: ${why})`,
      module,
    );
  }
  if (error instanceof Error && code !== undefined && !('code' in error)) Object.assign(error, { code });
  return error;
}

/** The problem entry for a file a worker could not read (or visit) as asked. */
export function failureError(file: Pending, failure: FileFailure): SluiceError {
  switch (failure.kind) {
    case 'not-a-file':
      return new NotAFileError(file.path, failure.directory ? 'directory' : 'special file');
    case 'shrank':
      return new FileShrankError(file.path, failure.size, failure.at);
    case 'error':
      return fromOsError(file.path, Object.assign(new Error(failure.message), { code: failure.code }));
  }
}

function validate(dir: string, visit: ScanVisitor | ScanWorkerVisitor, options: ScanOptions): void {
  if (typeof dir !== 'string' || dir.length === 0)
    throw new InvalidArgumentError('dir', 'a non-empty string', dir);
  if (dir.includes('\0')) throw new InvalidArgumentError('dir', 'a path without NUL bytes', dir);
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options', 'an object', options);
  const { concurrency, signal, filter, onProblem, workers } = options;
  if (typeof visit !== 'function') {
    if (typeof visit !== 'object' || visit === null)
      throw new InvalidArgumentError('visit', 'a function or a ScanWorkerVisitor ({ module, ... })', visit);
    validateWorkerVisitor(visit);
    if (workers === 0)
      throw new InvalidArgumentError('workers', 'at least 1 with a ScanWorkerVisitor', workers);
  }
  if (workers !== undefined && (!Number.isSafeInteger(workers) || workers < 0 || workers > 64)) {
    throw new InvalidArgumentError('workers', 'an integer from 0 to 64', workers);
  }
  if (
    concurrency !== undefined &&
    (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > MAX_SCAN_CONCURRENCY)
  ) {
    throw new InvalidArgumentError(
      'concurrency',
      `an integer from 1 to ${MAX_SCAN_CONCURRENCY}`,
      concurrency,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new InvalidArgumentError('signal', 'an AbortSignal', signal);
  if (filter !== undefined && typeof filter !== 'function')
    throw new InvalidArgumentError('filter', 'a function', filter);
  if (onProblem !== undefined && typeof onProblem !== 'function')
    throw new InvalidArgumentError('onProblem', 'a function', onProblem);
}

export function validateWorkerVisitor(visitor: ScanWorkerVisitor): void {
  const { module, export: name, data, onResult } = visitor;
  const moduleOk =
    module instanceof URL ||
    (typeof module === 'string' && (nodePath.isAbsolute(module) || /^(file|data):/.test(module)));
  if (!moduleOk) {
    throw new InvalidArgumentError(
      'visit.module',
      'a URL, a file: URL string or an absolute path (worker threads resolve nothing relative)',
      module,
    );
  }
  if (name !== undefined && (typeof name !== 'string' || name.length === 0))
    throw new InvalidArgumentError('visit.export', 'a non-empty string', name);
  if (onResult !== undefined && typeof onResult !== 'function')
    throw new InvalidArgumentError('visit.onResult', 'a function', onResult);
  try {
    structuredClone(data);
  } catch {
    throw new InvalidArgumentError('visit.data', 'a value structured clone can copy (no functions)', data);
  }
}
