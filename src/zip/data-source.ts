/**
 * One entry's file data for a stream: bytes `from`..`to` (inclusive) through a managed reader,
 * opened at once (possibly ahead of its turn), and checked to be the planned file both when it
 * opens and after its last byte was read, so a file that changed while the archive was planned or
 * streamed fails the stream (`SLUICE_ERR_ZIP_SOURCE_CHANGED`) instead of completing it with bytes
 * that do not match their header.
 *
 * What "the planned file" means: for an entry with a `DeferredCrc`, the exact version its CRC is
 * of (size, mtime to the resolution of `Stats.mtimeMs`, inode, device); for an entry with a CRC
 * given as a number, its size and its mtime within 1 ms (entries may carry an mtime truncated to ms,
 * a Date; the OS has ns).
 */
import { stat } from 'node:fs/promises';
import type { BufferPool } from '../buffers/index.js';
import { SluiceError, ZipSourceChangedError } from '../errors.js';
import { type ManagedReader, openReader } from '../file/index.js';
import { fromOsError } from '../file/os-errors.js';
import type { ResolvedEntry } from './entries.js';
import { checkStats, type NumericFileStats } from './file-version.js';

export interface DataSourceOptions {
  signal?: AbortSignal | undefined;
  pool?: BufferPool | undefined;
  /** Readers on the pool take fair turns (sluice/file `fairTurns`). */
  fairTurns: boolean;
  /** Window size and read-ahead (without a pool): the planner's choice when absent. */
  windowSize?: number;
  readAhead?: number;
}

const ignore = (): void => {};

/** Errors are kept for the moment the data is due. */
export class DataSource {
  readonly piece: number;
  readonly opened: Promise<ManagedReader>;
  readonly #entry: ResolvedEntry;
  readonly #plannedSize: number;
  #first: Promise<Buffer | null> | undefined;

  constructor(
    piece: number,
    entry: ResolvedEntry,
    plannedSize: number,
    from: number,
    to: number,
    options: DataSourceOptions,
  ) {
    this.piece = piece;
    this.#entry = entry;
    this.#plannedSize = plannedSize;
    this.opened = openChecked(entry, plannedSize, from, to, options);
    this.opened.catch(ignore);
  }

  /** Starts reading the first window now. */
  prime(): void {
    this.#first ??= this.opened.then((reader) => reader.next());
    this.#first.catch(ignore);
  }

  first(): Promise<Buffer | null> {
    this.prime();
    return this.#first!;
  }

  /**
   * After the last byte was read: rejects when the file is no longer the planned one (it was
   * written to, or replaced, while it was read).
   */
  async checkUnchanged(): Promise<void> {
    checkPlanned(this.#entry, this.#plannedSize, await statSource(this.#entry.source!));
  }

  async close(): Promise<void> {
    let reader: ManagedReader;
    try {
      reader = await this.opened;
    } catch {
      return;
    }
    await reader.close();
    await this.#first?.catch(ignore);
  }
}

/** `stat` of an entry's file, its failure as a sluice/file error. */
export async function statSource(path: string): Promise<NumericFileStats> {
  try {
    return await stat(path);
  } catch (error) {
    throw fromOsError(path, error);
  }
}

function checkPlanned(entry: ResolvedEntry, plannedSize: number, now: NumericFileStats): void {
  const path = entry.source!;
  if (entry.deferred !== undefined) {
    checkStats(path, entry.deferred.version, now);
    return;
  }
  if (now.size !== plannedSize) throw new ZipSourceChangedError(path, 'size', plannedSize, now.size);
  if (Math.abs(now.mtimeMs - entry.mtimeMs) >= 1) {
    throw new ZipSourceChangedError(path, 'mtime (ms)', Math.floor(entry.mtimeMs), Math.floor(now.mtimeMs));
  }
}

/** Opens the entry's file for `from`..`to` and checks it is still what was planned. */
async function openChecked(
  entry: ResolvedEntry,
  plannedSize: number,
  from: number,
  to: number,
  options: DataSourceOptions,
): Promise<ManagedReader> {
  const path = entry.source!;
  const readerOptions = {
    start: from,
    end: to,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.pool ? { pool: options.pool, fairTurns: options.fairTurns } : {}),
    ...(options.windowSize === undefined ? {} : { windowSize: options.windowSize }),
    ...(options.readAhead === undefined ? {} : { readAhead: options.readAhead }),
  };
  let reader: ManagedReader;
  try {
    reader = await openReader(path, readerOptions);
  } catch (error) {
    if (error instanceof SluiceError && error.code === 'SLUICE_ERR_RANGE_OUTSIDE_FILE') {
      // it shrank below the planned size since it was planned
      const now = await stat(path);
      throw new ZipSourceChangedError(path, 'size', plannedSize, now.size);
    }
    throw error;
  }
  try {
    checkPlanned(entry, plannedSize, reader.stats);
    return reader;
  } catch (error) {
    await reader.close();
    throw error;
  }
}
