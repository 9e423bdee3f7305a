/**
 * CRC-32s of whole files on libuv's threadpool, through the native addon's `crc32Read`
 * (`native/crc32-fold.c`): each call reads up to `CHUNK_BYTES` through a 256 KiB window that stays
 * in the core's cache and checksums it there, so the bytes are read from memory once and the main
 * thread never sees them. No thread to start (a CRC worker takes ~25 ms and ~25 ms of CPU to start
 * here), and the checksum runs at AVX-512 speed where the CPU has it.
 *
 * Invariants: at most `maxCrcWorkers()` files are checksummed at once in the process (the others
 * wait their turn, first come first served), so the threadpool always has threads left for the
 * streams' own reads; a chunk is a few hundred microseconds of work, so an abort stops a computation
 * within one chunk and a stream's read never waits behind more than one chunk per computation; the
 * descriptor is closed before the promise settles.
 */
import { AbortError } from '../errors.js';
import { close, fstatBigInt } from '../file/fs-async.js';
import { crc32Read } from '../file/native.js';
import { openReadOnly } from '../file/open-file.js';
import { fromOsError } from '../file/os-errors.js';
import { limit } from '../tasks/limit.js';
import type { CrcOfFile } from './crc-workers.js';
import { versionOf } from './file-version.js';

/** Bytes per `crc32Read` call: ~0.3 ms of work here, so other threadpool work interleaves. */
const CHUNK_BYTES = 4 * 1024 * 1024;

let files: ReturnType<typeof limit> | undefined;

/** Whether files can be checksummed on the threadpool (the addon is built and the CPU allows). */
export const threadpoolCrcAvailable: boolean = crc32Read !== undefined;

/**
 * The CRC-32 of the whole file at `path` and how many bytes it had, with its version (fstat of the
 * descriptor read) before the first read and after the last. `concurrency` bounds the files
 * checksummed at once in the process (fixed by the first call). Aborting stops within one chunk and
 * rejects with `SLUICE_ERR_ABORTED`.
 */
export function crcOnThreadpool(
  path: string,
  signal: AbortSignal | undefined,
  concurrency: number,
): Promise<CrcOfFile> {
  const read = crc32Read;
  if (read === undefined) throw new Error('crcOnThreadpool needs the native addon (threadpoolCrcAvailable)');
  files ??= limit(concurrency);
  return files(() => checksum(path, signal, read), signal === undefined ? undefined : { signal });
}

async function checksum(
  path: string,
  signal: AbortSignal | undefined,
  read: NonNullable<typeof crc32Read>,
): Promise<CrcOfFile> {
  const aborted = (): AbortError => new AbortError(`computing the CRC-32 of ${path}`, signal?.reason);
  if (signal?.aborted) throw aborted();
  const fd = await openReadOnly(path);
  try {
    const before = versionOf(await fstatBigInt(fd));
    let crc = 0;
    let bytes = 0;
    for (;;) {
      if (signal?.aborted) throw aborted();
      const chunk = await read(fd, bytes, CHUNK_BYTES, crc);
      crc = chunk.crc;
      bytes += chunk.bytes;
      if (chunk.bytes < CHUNK_BYTES) break; // end of file
    }
    const after = versionOf(await fstatBigInt(fd));
    return { crc, bytes, before, after };
  } catch (error) {
    throw fromOsError(path, error); // an AbortError passes through as it is
  } finally {
    await close(fd);
  }
}
