/**
 * The optional native addon (`native/sluice-native.c`, built at install by
 * `scripts/build-native.mjs` when a C compiler and Node's headers are present). Without it (not
 * built, not Linux, or `SLUICE_NATIVE=0`), every caller has a JavaScript path with the same results.
 *
 * - `readPopulated`: a positional read on the threadpool that has the kernel map the destination's
 *   pages in one call before reading, instead of one page fault per 4 KiB during the copy. `readAll`
 *   uses it for fresh buffers, and the threadpool readers for a slab's first read.
 * - `crc32Read` and `crc32` (only where the CPU has a carry-less multiply: x86-64 with PCLMULQDQ):
 *   CRC-32 by folding (`native/crc32-fold.c`, AVX-512 when there). sluice/zip checksums files with
 *   `crc32Read` on the threadpool instead of on worker threads, and `crc32` is its first choice.
 * - `readFiles`: small files read whole into one buffer with no JavaScript between them
 *   (`native/read-files.c`); scanTree's worker-thread visits read their batches with it.
 * - `listDirectory`: a small directory's names and types in one call, on the calling thread
 *   (`native/list-directory.c`); scanTree's walk lists directories with it.
 */
import { createRequire } from 'node:module';

/**
 * Resolves with the bytes read (less than `length` only at end of file). Rejects with an error
 * shaped like `fs.read`'s (`code`, negative `errno`, `syscall: 'read'`), which callers turn into
 * sluice errors with `fromOsError` as they do fs's. Its argument errors (a RangeError with code
 * `SLUICE_NATIVE_ARGUMENT`) are sluice bugs, never users' input: callers validate first.
 */
export type ReadPopulated = (
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
) => Promise<number>;

/**
 * The CRC-32 of `length` bytes of `fd` from `position` (fewer at end of file: `bytes` says how many),
 * continuing from `previous` (0 to start). Read on the threadpool through a 256 KiB window that stays
 * in the core's cache, checksummed there; errors as `ReadPopulated`'s.
 */
export type Crc32Read = (
  fd: number,
  position: number,
  length: number,
  previous: number,
) => Promise<{ crc: number; bytes: number }>;

/** zlib's `crc32(data, previous)` contract, on the calling thread. */
export type Crc32 = (data: Uint8Array, previous: number) => number;

/**
 * Reads `paths[from]`, `paths[from + 1]`... whole, one after the other, into `buffer` (open, fstat,
 * read its size, close; on the calling thread: for worker threads; each opened by name relative to
 * its folder, held open (O_PATH) while consecutive paths share it), `READ_FILES_SLOTS` numbers per
 * path in `outcomes` (see `ReadFilesOutcome`). Stops before the first regular file that fits in the
 * buffer but not in what is left of it, after one too big for all of it (TOO_BIG, not read: the
 * caller may read it through the same buffer once it is done with the files before it), or when
 * `outcomes` is full; returns how many paths it handled.
 */
export type ReadFiles = (
  paths: readonly string[],
  from: number,
  buffer: Uint8Array,
  outcomes: Float64Array,
) => number;

/** Numbers per path in `readFiles`' outcomes: kind, detail, size, mtimeMs, dev, ino, mode. */
export const READ_FILES_SLOTS = 7;

/**
 * `readFiles` outcome kinds (first number), and what the second number is:
 * WHOLE: the offset of its bytes in the buffer; NOT_A_FILE: -; TOO_BIG (larger than the whole
 * buffer, not read): -; FAILED: the errno, the third number the call (`READ_FILES_CALLS`), no stats;
 * SHRANK: the bytes there were, fewer than the size fstat saw.
 */
export const ReadFilesOutcome = { WHOLE: 0, NOT_A_FILE: 1, TOO_BIG: 2, FAILED: 3, SHRANK: 4 } as const;

/** The call that failed, by the third number of a FAILED outcome. */
export const READ_FILES_CALLS = ['open', 'fstat', 'read'] as const;

/**
 * Lists `path`'s entries but `.` and `..` on the calling thread, if there are at most
 * `types.length`: returns their names in byte order (qsort; for UTF-8, code point order), each
 * followed by `/`, as one string, with their `d_type` values (`DirentType` in `dirent-type.ts`;
 * never unknown: resolved with `fstatat`, links not followed) in `types[0 ..]`; `null` when there
 * are more (nothing listed: it stops at entry `types.length + 1`, the kernel handing entries over
 * 32 KiB at a time); a negative errno when a call failed (ENOENT, ENOTDIR, EACCES...).
 */
export type ListDirectory = (path: string, types: Uint8Array) => string | null | number;

interface Addon {
  readPopulated?: ReadPopulated;
  crc32Read?: Crc32Read;
  crc32?: Crc32;
  crc32Kind?: string;
  readFiles?: ReadFiles;
  listDirectory?: ListDirectory;
}

function load(): Addon {
  if (process.env.SLUICE_NATIVE === '0' || process.platform !== 'linux') return {};
  try {
    // dist/src/file/native.js -> build/ at the package root
    return createRequire(import.meta.url)('../../../build/sluice-native.node') as Addon;
  } catch {
    return {}; // not built: correct without it, only slower
  }
}

const addon = load();

function functionOrUndefined<T>(value: T | undefined): T | undefined {
  return typeof value === 'function' ? value : undefined;
}

/** The addon's populated read, when built and enabled. */
export const readPopulated: ReadPopulated | undefined = functionOrUndefined(addon.readPopulated);

/** The addon's batch of whole small files, when built and enabled. */
export const readFiles: ReadFiles | undefined = functionOrUndefined(addon.readFiles);

/** The addon's bounded directory listing, when built and enabled. */
export const listDirectory: ListDirectory | undefined = functionOrUndefined(addon.listDirectory);

/** The addon's CRC-32 of a file range on the threadpool, when built, enabled and the CPU allows. */
export const crc32Read: Crc32Read | undefined = functionOrUndefined(addon.crc32Read);

/** The addon's CRC-32 of a buffer, when `crc32Read` is there. */
export const nativeCrc32: Crc32 | undefined = functionOrUndefined(addon.crc32);

/** Which code the addon's CRC runs (`avx512-vpclmulqdq`, `sse-pclmulqdq`), when it is there. */
export const nativeCrc32Kind: string | undefined = nativeCrc32 !== undefined ? addon.crc32Kind : undefined;
