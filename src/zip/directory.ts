/**
 * `zipDirectory`: the entries of a directory tree, with sizes, mtimes, modes and CRC-32s (from the
 * persistent `CrcCache`, else computed once and stored), ready for `planZip`.
 */
import type { BigIntStats, Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { AbortError, InvalidArgumentError, NotAFileError, ZipSourceChangedError } from '../errors.js';
import { openReader } from '../file/index.js';
import { fromOsError } from '../file/os-errors.js';
import { CrcCache } from './crc-cache.js';
import { threadpoolCrcAvailable } from './crc-threadpool.js';
import { crcOffThread, deferredCrcWorkers, maxCrcWorkers, startCrcWorkers } from './crc-workers.js';
import { crc32 } from './crc32.js';
// A file modified less than RACY_MARGIN_NS before its CRC is read is not cached: a later write
// within the same timestamp tick would leave size and mtime unchanged, and the cached CRC stale.
import { DeferredCrc, RACY_MARGIN_NS } from './deferred-crc.js';
import { checkName, type ZipEntryInput } from './entries.js';
import { versionOf } from './file-version.js';

export interface ZipDirectoryOptions {
  /** Where CRCs are remembered: a cache, `false` to compute every CRC afresh, or (default) the cache at its default location. */
  crcCache?: CrcCache | false;
  signal?: AbortSignal;
  /**
   * CRC threads (default: one per core, at most 4; see `deferredCrcWorkers()` with `deferCrcs`):
   * with the native addon, threadpool threads checksumming at once, used for any amount; without
   * it, worker threads, used when at least 32 MiB of files need a CRC (with `deferCrcs`, one per
   * core but one, since the stream needs a core beside them). 0 computes every CRC on the main
   * thread through the managed reader, one file at a time.
   */
  workers?: number;
  /** Files whose CRC-32 is computed at once (default: the CRC threads used, else 1). */
  concurrency?: number;
  /** Put every entry under this folder (e.g. the directory's own name); default: names relative to `dir`. */
  prefix?: string;
  /**
   * Compute no CRC now (default false): each file entry's `crc32` is a `DeferredCrc`, known when
   * the cache has it, else computed by the first stream that needs it (on the CRC threads, ahead
   * of the stream) and stored in the cache then. The plan is made from the listing alone, its
   * first byte goes out before later files are read, and a cold archive's files are read once by
   * the stream and once for their CRCs at the same time instead of one pass after the other. The
   * plan's ETag comes from the files' versions (names, sizes, mtimes in ns, modes), the same
   * whether their CRCs were cached or not. The cache (when it is the default one, opened here)
   * stays in use by the entries after this returns.
   */
  deferCrcs?: boolean;
}

/**
 * Without the native addon, below this many bytes to checksum, the main thread does it through the
 * managed reader (one file at a time: each reader already keeps the threadpool busy). Starting a CRC
 * worker thread costs ~25 ms here (what checksumming ~100 MiB of cached files costs); from 32 MiB on,
 * keeping that work off the event loop is worth it even when it is not faster. The addon's threadpool
 * CRC starts nothing, so it is used for any amount.
 */
const WORKER_MIN_BYTES = 32 * 1024 * 1024;

/** Whether `bytes` to checksum are worth CRC threads (see WORKER_MIN_BYTES). */
function offThreadWorthIt(bytes: number): boolean {
  return threadpoolCrcAvailable ? bytes > 0 : bytes >= WORKER_MIN_BYTES;
}
/** Attempts at a consistent CRC of a file that keeps changing while it is read. */
const CRC_ATTEMPTS = 3;

/**
 * The entries of `dir`'s tree, names relative to it ('/'-separated), sorted deterministically: each
 * folder's children by name (UTF-16 code units), a folder entry before its contents, depth first.
 * Every folder gets an entry (so empty ones survive). Symbolic links to files are followed; links to
 * folders are skipped (no cycles), as are sockets, FIFOs and devices.
 *
 * Usage: `planZip(await zipDirectory(dir))`.
 */
export async function zipDirectory(dir: string, options: ZipDirectoryOptions = {}): Promise<ZipEntryInput[]> {
  const { signal } = options;
  const root = path.resolve(dir);
  let rootStat: BigIntStats;
  try {
    rootStat = await stat(root, { bigint: true });
  } catch (error) {
    throw fromOsError(root, error);
  }
  if (!rootStat.isDirectory()) throw new NotAFileError(root, 'not a directory');
  const prefix =
    options.prefix === undefined || options.prefix === '' ? '' : `${checkName(options.prefix, true)}`;
  const ownCache = options.crcCache === undefined;
  const cache = options.crcCache === false ? undefined : (options.crcCache ?? (await CrcCache.open()));
  const workers = options.workers ?? (options.deferCrcs === true ? deferredCrcWorkers() : maxCrcWorkers());
  if (!Number.isSafeInteger(workers) || workers < 0) {
    throw new InvalidArgumentError('workers', 'an integer >= 0', workers);
  }
  const concurrency = options.concurrency;
  if (concurrency !== undefined && (!Number.isSafeInteger(concurrency) || concurrency < 1)) {
    throw new InvalidArgumentError('concurrency', 'a positive integer', concurrency);
  }
  if (options.deferCrcs !== undefined && typeof options.deferCrcs !== 'boolean') {
    throw new InvalidArgumentError('deferCrcs', 'a boolean', options.deferCrcs);
  }
  const entries: ZipEntryInput[] = [];
  const files: PendingFile[] = [];
  try {
    if (prefix !== '') entries.push(folderEntry(prefix, rootStat));
    await walk(root, prefix, entries, files, signal);
    if (options.deferCrcs === true) deferCrcs(files, workers, concurrency, cache);
    else await settleCrcs(files, workers, concurrency, cache, signal);
  } finally {
    if (ownCache) await cache?.close();
  }
  return entries;
}

/** A file entry listed in order, its CRC (and final stats) filled in afterwards. */
interface PendingFile {
  entry: { -readonly [K in keyof ZipEntryInput]: ZipEntryInput[K] };
  stats: BigIntStats;
}

/**
 * Fills in every file's CRC, `lanes` files at a time (default: one per CRC thread, else 1): on up
 * to `workers` CRC threads (see offThreadWorthIt), else on the main thread. On the
 * first failure no new file is started; the ones in progress finish before the error is thrown, so
 * nothing touches the cache after it is closed.
 */
async function settleCrcs(
  files: readonly PendingFile[],
  workers: number,
  lanes: number | undefined,
  cache: CrcCache | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  let uncachedBytes = 0;
  for (const file of files) if (cache?.has(file.stats) !== true) uncachedBytes += Number(file.stats.size);
  const threads = offThreadWorthIt(uncachedBytes) ? Math.min(workers, maxCrcWorkers(), files.length) : 0;
  if (threads > 0) startCrcWorkers(threads);
  const concurrency = lanes ?? Math.max(1, threads);
  const compute = threads > 0 ? crcOffThread : crcOnMainThread;
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < files.length) {
      const file = files[next++]!;
      try {
        const { crc, stats } = await fileCrc(file.entry.source!, file.stats, cache, compute, signal);
        file.entry.crc32 = crc;
        file.entry.size = Number(stats.size);
        file.entry.mtime = Number(stats.mtimeMs);
        file.entry.mode = Number(stats.mode & 0o7777n);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(concurrency, files.length) }, lane));
  const rejected = results.find((result) => result.status === 'rejected');
  if (rejected !== undefined) throw (rejected as PromiseRejectedResult).reason;
}

/**
 * Gives every file a `DeferredCrc`: known from the cache, or to be computed by the stream, on up to
 * `workers` CRC threads (see offThreadWorthIt; worker threads are started by the first
 * computation), else on the main thread.
 */
function deferCrcs(
  files: readonly PendingFile[],
  workers: number,
  lanes: number | undefined,
  cache: CrcCache | undefined,
): void {
  const known = files.map((file) => cache?.get(file.stats));
  let uncachedBytes = 0;
  let uncachedFiles = 0;
  files.forEach((file, index) => {
    if (known[index] !== undefined) return;
    uncachedBytes += Number(file.stats.size);
    uncachedFiles++;
  });
  const threads = offThreadWorthIt(uncachedBytes) ? Math.min(workers, maxCrcWorkers(), uncachedFiles) : 0;
  const context = { cache, threads, parallel: lanes ?? Math.max(1, threads) };
  files.forEach((file, index) => {
    file.entry.crc32 = new DeferredCrc(file.entry.source!, versionOf(file.stats), context, known[index]);
  });
}

function folderEntry(name: string, stats: BigIntStats): ZipEntryInput {
  return { name, directory: true, mtime: Number(stats.mtimeMs), mode: Number(stats.mode & 0o7777n) };
}

async function walk(
  dir: string,
  prefix: string,
  entries: ZipEntryInput[],
  files: PendingFile[],
  signal: AbortSignal | undefined,
): Promise<void> {
  if (signal?.aborted) throw new AbortError(`listing ${dir}`, signal.reason);
  let children: Dirent[];
  try {
    children = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw fromOsError(dir, error);
  }
  children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const kept = children.filter((child) => child.isFile() || child.isDirectory() || child.isSymbolicLink());
  for (let first = 0; first < kept.length; first += STAT_BATCH) {
    if (signal?.aborted) throw new AbortError(`listing ${dir}`, signal.reason);
    const batch = kept.slice(first, first + STAT_BATCH);
    const stated = await Promise.allSettled(
      batch.map((child) => stat(path.join(dir, child.name), { bigint: true })), // follows links
    );
    for (let index = 0; index < batch.length; index++) {
      await visitChild(dir, prefix, batch[index]!, stated[index]!, entries, files, signal);
    }
  }
}

/**
 * Children stat'ed at once, then taken in name order: one threadpool round trip per batch instead
 * of one per file (40-80 us each on the 2-core VMs here). `zipDirectory` of a 300-file folder
 * (deferred CRCs, fresh processes, medians of 7): 21 ms against 50 ms one stat at a time.
 */
const STAT_BATCH = 32;

/** One child of a listed folder, its stat done: an entry (a folder walked into), or skipped. */
async function visitChild(
  dir: string,
  prefix: string,
  child: Dirent,
  stated: PromiseSettledResult<BigIntStats>,
  entries: ZipEntryInput[],
  files: PendingFile[],
  signal: AbortSignal | undefined,
): Promise<void> {
  const source = path.join(dir, child.name);
  const name = `${prefix}${child.name}`;
  if (stated.status === 'rejected') {
    if (child.isSymbolicLink()) return; // a dangling link
    throw fromOsError(source, stated.reason);
  }
  const stats = stated.value;
  if (stats.isDirectory()) {
    if (child.isSymbolicLink()) return;
    const folder = checkName(name, true);
    entries.push(folderEntry(folder, stats));
    await walk(source, folder, entries, files, signal);
  } else if (stats.isFile()) {
    const entry = {
      name: checkName(name, false),
      source,
      size: Number(stats.size),
      mtime: Number(stats.mtimeMs),
      mode: Number(stats.mode & 0o7777n),
    };
    entries.push(entry);
    files.push({ entry, stats });
  }
}

/** The CRC of the file as it is now: from the cache, else read (again if it changed meanwhile). */
async function fileCrc(
  source: string,
  initial: BigIntStats,
  cache: CrcCache | undefined,
  compute: ComputeCrc,
  signal: AbortSignal | undefined,
): Promise<{ crc: number; stats: BigIntStats }> {
  let before = initial;
  for (let attempt = 1; ; attempt++) {
    const cached = cache?.get(before);
    if (cached !== undefined) return { crc: cached, stats: before };
    const wallStartNs = BigInt(Date.now()) * 1_000_000n;
    const { crc, bytes } = await compute(source, signal);
    const after = await stat(source, { bigint: true });
    if (
      BigInt(bytes) === after.size &&
      after.size === before.size &&
      after.mtimeNs === before.mtimeNs &&
      after.ino === before.ino
    ) {
      if (cache !== undefined && after.mtimeNs < wallStartNs - RACY_MARGIN_NS) await cache.set(after, crc);
      return { crc, stats: after };
    }
    if (attempt === CRC_ATTEMPTS) {
      throw new ZipSourceChangedError(source, 'mtime (ms)', Number(before.mtimeMs), Number(after.mtimeMs));
    }
    before = after;
  }
}

type ComputeCrc = (
  source: string,
  signal: AbortSignal | undefined,
) => Promise<{ crc: number; bytes: number }>;

/** The CRC of the whole file, read through the managed reader (copies on the threadpool, CRC here). */
async function crcOnMainThread(
  source: string,
  signal: AbortSignal | undefined,
): Promise<{ crc: number; bytes: number }> {
  const reader = await openReader(source, signal ? { signal } : {});
  try {
    let crc = 0;
    let bytes = 0;
    for (let window = await reader.next(); window !== null; window = await reader.next()) {
      crc = crc32(window, crc);
      bytes += window.length;
    }
    return { crc, bytes };
  } finally {
    await reader.close();
  }
}
