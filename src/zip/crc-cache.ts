/**
 * A persistent cache of file CRC-32s, keyed by device, inode, size and mtime (ns), so an archive of
 * files that did not change is planned without reading them.
 *
 * On disk: an append-only text file, one record per line,
 *   `v1 <dev> <ino> <size> <mtimeNs> <crc32 hex> <check hex>\n`
 * where `check` is the CRC-32 of the line up to the space before it. Every record is appended
 * with one `write()` on an O_APPEND descriptor, so a crash or a torn write loses at most the record
 * being written: a line that is cut short or damaged fails its check and is skipped when loading,
 * and a missing final newline is repaired before the next append. The last valid record for a key
 * wins. When the file holds many superseded records it is compacted: rewritten to a temporary file,
 * fsynced and renamed over the old one (atomic), so readers see either the old or the new file.
 *
 * A stale entry is never used: any change of size or mtime (or a new inode) is a different key.
 * An idle cache holds no file descriptor: the file is opened for appends and closed again as soon
 * as no append is queued, so a cache may outlive its `close()` (later `set()`s append again).
 * Several processes may share the file; compaction by one may drop a record another appended
 * meanwhile, which costs a recomputation, never a wrong CRC.
 */
import { type FileHandle, mkdir, open, readFile, rename } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CrcCacheError, InvalidArgumentError } from '../errors.js';
import { crc32 } from './crc32.js';

/** What identifies one version of a file: from `fs.stat(path, { bigint: true })`. */
export interface FileIdentity {
  dev: bigint | number;
  ino: bigint | number;
  size: bigint | number;
  mtimeNs: bigint;
}

export interface CrcCacheOptions {
  /** The bound: at most this many CRCs are kept (the oldest are dropped first). Default 1,000,000. */
  maxEntries?: number;
}

export interface CrcCacheStats {
  path: string;
  entries: number;
  hits: number;
  misses: number;
  writes: number;
  /** Damaged or torn records skipped when loading. */
  skippedRecords: number;
}

const FORMAT = 'v1';
const DEFAULT_MAX_ENTRIES = 1_000_000;
/** Compact when the file holds more than twice as many records as live entries (plus slack). */
const COMPACT_SLACK = 1024;

export class CrcCache {
  readonly path: string;
  readonly #entries = new Map<string, number>();
  readonly #maxEntries: number;
  #handle: FileHandle | undefined;
  #recordsOnDisk = 0;
  #hits = 0;
  #misses = 0;
  #writes = 0;
  #skipped = 0;
  /** Appends in order, one at a time. */
  #queue: Promise<void> = Promise.resolve();
  /** Appends queued and not yet finished: the file is closed when this drops to 0. */
  #appendsQueued = 0;

  /** `$XDG_CACHE_HOME/sluice/crc32-v1.txt`, else `~/.cache/sluice/crc32-v1.txt`. */
  static defaultPath(): string {
    const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    return path.join(base, 'sluice', 'crc32-v1.txt');
  }

  /** Loads the cache at `file` (default `CrcCache.defaultPath()`); a missing file is an empty cache. */
  static async open(file: string = CrcCache.defaultPath(), options: CrcCacheOptions = {}): Promise<CrcCache> {
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new InvalidArgumentError('maxEntries', 'a positive integer', maxEntries);
    }
    const cache = new CrcCache(path.resolve(file), maxEntries);
    await cache.#load();
    return cache;
  }

  private constructor(file: string, maxEntries: number) {
    this.path = file;
    this.#maxEntries = maxEntries;
  }

  static key(identity: FileIdentity): string {
    return `${identity.dev} ${identity.ino} ${identity.size} ${identity.mtimeNs}`;
  }

  /** The CRC-32 of this exact version of the file, when known. */
  /** Whether a CRC is known for this version of the file, without counting a hit or a miss. */
  has(identity: FileIdentity): boolean {
    return this.#entries.has(CrcCache.key(identity));
  }

  get(identity: FileIdentity): number | undefined {
    const crc = this.#entries.get(CrcCache.key(identity));
    if (crc === undefined) this.#misses++;
    else this.#hits++;
    return crc;
  }

  /** Remembers `crc` for this version of the file and appends it to the cache file. */
  set(identity: FileIdentity, crc: number): Promise<void> {
    const key = CrcCache.key(identity);
    this.#remember(key, crc >>> 0);
    this.#appendsQueued++;
    const task = this.#queue.then(async () => {
      try {
        await this.#append(key, crc >>> 0);
      } finally {
        if (--this.#appendsQueued === 0) await this.#release();
      }
    });
    this.#queue = task.catch(() => {});
    return task;
  }

  stats(): CrcCacheStats {
    return {
      path: this.path,
      entries: this.#entries.size,
      hits: this.#hits,
      misses: this.#misses,
      writes: this.#writes,
      skippedRecords: this.#skipped,
    };
  }

  /** Waits for pending appends and compacts the file when worthwhile. */
  async close(): Promise<void> {
    await this.#queue;
    if (this.#recordsOnDisk > 2 * this.#entries.size + COMPACT_SLACK) await this.#compact();
    await this.#release();
  }

  /** Closes the append descriptor (reopened by the next append). */
  async #release(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => {}); // what was written stays written
  }

  #remember(key: string, crc: number): void {
    this.#entries.delete(key); // re-inserting moves it to the newest end
    this.#entries.set(key, crc);
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  async #load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'latin1');
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return;
      throw new CrcCacheError(this.path, error);
    }
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const record = parseRecord(line);
      if (record === undefined) {
        this.#skipped++;
        continue;
      }
      this.#recordsOnDisk++;
      this.#remember(record.key, record.crc);
    }
    if (text.length > 0 && !text.endsWith('\n')) {
      // a torn last record: end its line so the next record starts on a line of its own
      await this.#write('\n');
      await this.#release();
    }
  }

  async #append(key: string, crc: number): Promise<void> {
    await this.#write(formatRecord(key, crc));
    this.#recordsOnDisk++;
    this.#writes++;
  }

  async #write(text: string): Promise<void> {
    try {
      if (this.#handle === undefined) {
        await mkdir(path.dirname(this.path), { recursive: true });
        this.#handle = await open(this.path, 'a', 0o644);
      }
      const bytes = Buffer.from(text, 'latin1');
      const { bytesWritten } = await this.#handle.write(bytes, 0, bytes.length);
      if (bytesWritten !== bytes.length) throw new Error(`short write (${bytesWritten} of ${bytes.length})`);
    } catch (error) {
      throw error instanceof CrcCacheError ? error : new CrcCacheError(this.path, error);
    }
  }

  async #compact(): Promise<void> {
    const temporary = `${this.path}.${process.pid}.tmp`;
    const lines: string[] = [];
    for (const [key, crc] of this.#entries) lines.push(formatRecord(key, crc));
    try {
      const handle = await open(temporary, 'w', 0o644);
      try {
        await handle.writeFile(lines.join(''), 'latin1');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.path);
      this.#recordsOnDisk = lines.length;
    } catch (error) {
      throw new CrcCacheError(this.path, error);
    }
  }
}

function formatRecord(key: string, crc: number): string {
  const body = `${FORMAT} ${key} ${crc.toString(16).padStart(8, '0')}`;
  return `${body} ${crc32(Buffer.from(body, 'latin1')).toString(16).padStart(8, '0')}\n`;
}

const RECORD = /^v1 (\d+) (\d+) (\d+) (\d+) ([0-9a-f]{8}) ([0-9a-f]{8})$/;

function parseRecord(line: string): { key: string; crc: number } | undefined {
  const match = RECORD.exec(line);
  if (match === null) return undefined;
  const body = line.slice(0, line.lastIndexOf(' '));
  if (crc32(Buffer.from(body, 'latin1')) !== Number.parseInt(match[6]!, 16)) return undefined;
  return { key: `${match[1]} ${match[2]} ${match[3]} ${match[4]}`, crc: Number.parseInt(match[5]!, 16) };
}
