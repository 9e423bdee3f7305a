/**
 * Validating and resolving `ZipEntryInput`s: safe names (APPNOTE 4.4.17.1: relative, forward
 * slashes, no drive letter), types and ranges of every field.
 */
import { InvalidArgumentError, ZipDuplicateNameError, ZipEntryNameError } from '../errors.js';
import { DeferredCrc } from './deferred-crc.js';

/** One entry of an archive: a file (read from `source`) or a folder. */
export interface ZipEntryInput {
  /** Archive path, '/'-separated; a trailing '/' or `directory: true` makes a folder entry. */
  name: string;
  /** File path to read the data from (absent for folders). */
  source?: string;
  /** Bytes; required for files in rangeable plans. */
  size?: number;
  /**
   * The CRC-32: a number, or a `DeferredCrc` (from `zipDirectory(dir, { deferCrcs: true })`:
   * known from the cache or computed by the stream when it needs it; the plan is rangeable all the
   * same). Absent for a file: the plan is 'streaming' (data descriptor, not rangeable).
   */
  crc32?: number | DeferredCrc;
  /** Ms since the epoch (or a Date): drives the DOS time and the extended timestamp; never "now". */
  mtime: Date | number;
  /** Unix permission bits (default 0o644 files, 0o755 folders); file type bits are added. */
  mode?: number;
  directory?: boolean;
}

/** An entry after validation: what the layout needs. */
export interface ResolvedEntry {
  /** Normalised name: folders end in '/'. */
  readonly name: string;
  readonly nameBytes: Buffer;
  readonly directory: boolean;
  readonly source: string | undefined;
  /** Undefined only in streaming plans, for files whose size is taken when they are opened. */
  readonly size: number | undefined;
  /** The CRC-32 given as a number. */
  readonly crc32: number | undefined;
  /** The CRC-32 given as a `DeferredCrc` (then `crc32` is undefined). */
  readonly deferred: DeferredCrc | undefined;
  readonly mtimeMs: number;
  /** Mode with the file type bits: S_IFREG (0o100000) or S_IFDIR (0o040000). */
  readonly mode: number;
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const MAX_NAME_BYTES = 0xffff; // 4.4.10: a 16-bit length

export function checkName(rawName: unknown, directory: boolean): string {
  if (typeof rawName !== 'string') throw new InvalidArgumentError('entry name', 'a string', rawName);
  let name = rawName;
  if (directory && !name.endsWith('/')) name += '/';
  const path = directory ? name.slice(0, -1) : name;
  if (path.length === 0) throw new ZipEntryNameError(rawName, 'it is empty');
  if (path.includes('\0')) throw new ZipEntryNameError(rawName, 'it contains NUL');
  if (path.includes('\\'))
    throw new ZipEntryNameError(rawName, "it contains '\\' (4.4.17.1: only '/' separates)");
  if (path.startsWith('/')) throw new ZipEntryNameError(rawName, 'it is absolute');
  if (/^[A-Za-z]:/.test(path)) throw new ZipEntryNameError(rawName, 'it starts with a drive letter');
  for (const segment of path.split('/')) {
    if (segment === '') throw new ZipEntryNameError(rawName, 'it has an empty segment');
    if (segment === '..') throw new ZipEntryNameError(rawName, "it has a '..' segment");
    if (segment === '.') throw new ZipEntryNameError(rawName, "it has a '.' segment");
  }
  if (Buffer.from(name).toString('utf8') !== name)
    throw new ZipEntryNameError(rawName, 'it is not valid Unicode (a lone surrogate)');
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new ZipEntryNameError(rawName, `it is over ${MAX_NAME_BYTES} bytes in UTF-8`);
  }
  return name;
}

function mtimeOf(entry: ZipEntryInput): number {
  const value = entry.mtime instanceof Date ? entry.mtime.getTime() : entry.mtime;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidArgumentError(
      `mtime of ${JSON.stringify(entry.name)}`,
      'a Date or ms since the epoch',
      entry.mtime,
    );
  }
  return value;
}

export function resolveEntries(entries: readonly ZipEntryInput[]): ResolvedEntry[] {
  if (!Array.isArray(entries)) throw new InvalidArgumentError('entries', 'an array', entries);
  const seen = new Set<string>();
  return entries.map((entry) => {
    if (typeof entry !== 'object' || entry === null) {
      throw new InvalidArgumentError('entry', 'an object', entry);
    }
    const directory =
      entry.directory === true || (typeof entry.name === 'string' && entry.name.endsWith('/'));
    const name = checkName(entry.name, directory);
    const key = directory ? name.slice(0, -1) : name;
    if (seen.has(key)) throw new ZipDuplicateNameError(key);
    seen.add(key);
    const label = JSON.stringify(name);
    const mode = entry.mode ?? (directory ? 0o755 : 0o644);
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      throw new InvalidArgumentError(`mode of ${label}`, 'permission bits (0 to 0o7777)', entry.mode);
    }
    const mtimeMs = mtimeOf(entry);
    if (directory) {
      return {
        name,
        nameBytes: Buffer.from(name),
        directory,
        source: undefined,
        size: 0,
        crc32: 0,
        deferred: undefined,
        mtimeMs,
        mode: S_IFDIR | mode,
      };
    }
    if (typeof entry.source !== 'string' || entry.source === '') {
      throw new InvalidArgumentError(`source of ${label}`, 'a file path', entry.source);
    }
    if (entry.size !== undefined && (!Number.isSafeInteger(entry.size) || entry.size < 0)) {
      throw new InvalidArgumentError(`size of ${label}`, 'a safe integer >= 0', entry.size);
    }
    const deferred = entry.crc32 instanceof DeferredCrc ? entry.crc32 : undefined;
    if (deferred !== undefined) {
      // the layout must be the one the CRC will be of
      if (entry.size !== undefined && entry.size !== deferred.size) {
        throw new InvalidArgumentError(
          `size of ${label}`,
          `its DeferredCrc's size (${deferred.size})`,
          entry.size,
        );
      }
      if (entry.source !== deferred.source) {
        throw new InvalidArgumentError(
          `source of ${label}`,
          `its DeferredCrc's source (${deferred.source})`,
          entry.source,
        );
      }
    } else if (
      entry.crc32 !== undefined &&
      (!Number.isInteger(entry.crc32) || entry.crc32 < 0 || entry.crc32 > 0xffffffff)
    ) {
      throw new InvalidArgumentError(
        `crc32 of ${label}`,
        'an unsigned 32-bit integer or a DeferredCrc',
        entry.crc32,
      );
    }
    return {
      name,
      nameBytes: Buffer.from(name),
      directory,
      source: entry.source,
      size: deferred?.size ?? entry.size,
      crc32: typeof entry.crc32 === 'number' ? entry.crc32 : undefined,
      deferred,
      mtimeMs,
      mode: S_IFREG | mode,
    };
  });
}
