/**
 * `planZip`: an archive's exact layout computed before any I/O, and `stream({ start, end })`, the
 * bytes of any range of it, produced lazily, one file window at a time.
 */
import { createHash } from 'node:crypto';
import type { BufferPool } from '../buffers/index.js';
import {
  AbortError,
  InvalidArgumentError,
  ZipNotRangeableError,
  ZipRangeError,
  ZipSourceChangedError,
} from '../errors.js';
import type { ManagedReader } from '../file/index.js';
import { CrcAhead } from './crc-ahead.js';
import { crc32 } from './crc32.js';
import { DataSource, statSource } from './data-source.js';
import { type ResolvedEntry, resolveEntries, type ZipEntryInput } from './entries.js';
import { Layout, PIECE_DATA, PIECE_END } from './layout.js';

export interface ZipPlanOptions {
  /** The archive comment (4.3.16), at most 65535 UTF-8 bytes. */
  comment?: string;
}

export interface ZipStreamOptions {
  /** First byte (default 0). */
  start?: number;
  /** Last byte, inclusive as in HTTP ranges (default: the last byte of the archive). */
  end?: number;
  /** Aborting ends the stream with `SLUICE_ERR_ABORTED` and closes the open file at once. */
  signal?: AbortSignal;
  /**
   * File windows come from this pool (bounding the memory of every stream that shares it). Readers
   * on it take fair turns (`openReader`'s `fairTurns`): when another stream waits for a window, a
   * stream hands its window over between windows instead of keeping it to the end of the file.
   * Not with `openAhead: true`, where the stream's own next file waits for the pool.
   */
  pool?: BufferPool;
  /**
   * Open the next file and start reading it while the current file's last windows go by, so the
   * reads never stall at a file boundary: at most two files open, the next one's first window in
   * memory early. Default: true without a `pool`, false with one (a server sending to clients slower
   * than the disk gains nothing from it and keeps one file per connection).
   */
  openAhead?: boolean;
}

export interface ZipPlan {
  /** The exact archive length in bytes (`NaN` for a streaming plan with a file of unknown size). */
  readonly size: number;
  /**
   * A strong ETag, quoted (`"sz-..."`), derived from each entry's name, size, mtime and mode, and
   * its CRC when given as a number, or its file's version (mtime in ns) when the CRC is deferred:
   * the same plan always gives the same bytes, and the same files give the same ETag whether their
   * deferred CRCs were cached or not. Streaming plans (whose content is not pinned by CRCs) get a
   * weak one, `W/"sz-..."`.
   */
  readonly etag: string;
  /** False for streaming plans (a file without a CRC-32, known or deferred, or a size): no ranges then. */
  readonly rangeable: boolean;
  readonly entries: readonly ZipEntryInput[];
  /**
   * The archive's bytes from `start` to `end` (inclusive), without producing those before `start`.
   *
   * WARNING: chunks holding file data are the reader's window, valid only until the next pull.
   * Consume each chunk before asking for the next one. A consumer that hands a chunk to
   * `socket.write()` (or any writable) must wait for that write's callback before pulling again:
   * Node keeps a reference to the buffer until it is flushed, it does not copy it. To keep a chunk,
   * copy it (`Buffer.from(chunk)`).
   *
   * Deferred CRCs (`DeferredCrc`) the range needs are computed on the way, ahead of the stream on
   * the CRC threads: a local header goes out once its file's CRC is known; the central directory
   * needs every CRC.
   *
   * Throws synchronously `SLUICE_ERR_ZIP_RANGE` for a range outside the archive and
   * `SLUICE_ERR_ZIP_NOT_RANGEABLE` for a range of a streaming plan. While streaming:
   * `SLUICE_ERR_ZIP_SOURCE_CHANGED` when a file is not the one planned (size or mtime differ from
   * its entry, or from the version its deferred CRC is of) when opened or after its last byte,
   * `SLUICE_ERR_ABORTED`, and the sluice/file errors (file not found, permission, ...).
   */
  stream(options?: ZipStreamOptions): AsyncIterable<Buffer>;
}

/** Header bytes are gathered up to this much before they are yielded (one chunk, not thousands). */
const HEADER_BATCH_BYTES = 64 * 1024;
/** File data up to this size is copied into the header batch instead of being yielded on its own. */
const SMALL_DATA_BYTES = 16 * 1024;
/** Bumped whenever the bytes for the same entries change, so old ETags stop matching. */
const LAYOUT_VERSION = 'sluice-zip/1';

export function planZip(entries: readonly ZipEntryInput[], options: ZipPlanOptions = {}): ZipPlan {
  return new Plan(entries, options);
}

class Plan implements ZipPlan {
  readonly size: number;
  readonly rangeable: boolean;
  readonly entries: readonly ZipEntryInput[];
  readonly #resolved: readonly ResolvedEntry[];
  readonly #comment: Buffer;
  /** Undefined for a streaming plan with a file of unknown size: laid out when streamed. */
  readonly #layout: Layout | undefined;
  #etag: string | undefined;

  constructor(entries: readonly ZipEntryInput[], options: ZipPlanOptions) {
    const comment = options.comment ?? '';
    if (typeof comment !== 'string') throw new InvalidArgumentError('comment', 'a string', comment);
    this.#comment = Buffer.from(comment);
    if (this.#comment.length > 0xffff) {
      throw new InvalidArgumentError('comment', 'at most 65535 bytes in UTF-8', comment);
    }
    this.#resolved = resolveEntries(entries);
    this.entries = Object.freeze(entries.map((entry) => Object.freeze({ ...entry })));
    this.rangeable = this.#resolved.every(
      (entry) => (entry.crc32 !== undefined || entry.deferred !== undefined) && entry.size !== undefined,
    );
    const sizes = this.#resolved.map((entry) => entry.size);
    this.#layout = sizes.every((size) => size !== undefined)
      ? new Layout(this.#resolved, sizes as number[], this.#comment)
      : undefined;
    this.size = this.#layout?.size ?? Number.NaN;
  }

  /** Computed on first use (a SHA-256 over every entry; a consumer that never asks never pays). */
  get etag(): string {
    this.#etag ??= this.#computeEtag();
    return this.#etag;
  }

  #computeEtag(): string {
    const hash = createHash('sha256').update(LAYOUT_VERSION).update('\0').update(this.#comment);
    for (const entry of this.#resolved) {
      // the CRC slot: the number, or 'v' + the mtime in ns of the version a deferred CRC is of
      const content = entry.deferred === undefined ? `${entry.crc32}` : `v${entry.deferred.version.mtimeNs}`;
      hash.update(`\n${entry.name}\0${entry.size}\0${content}\0${entry.mtimeMs}\0${entry.mode}`);
    }
    const tag = `"sz-${hash.digest('base64url').slice(0, 32)}"`;
    return this.rangeable ? tag : `W/${tag}`;
  }

  stream(options: ZipStreamOptions = {}): AsyncIterable<Buffer> {
    const { start, end } = options;
    if (!this.rangeable && (start !== undefined || end !== undefined)) {
      const entry = this.#resolved.find(
        (candidate) =>
          (candidate.crc32 === undefined && candidate.deferred === undefined) || candidate.size === undefined,
      );
      throw new ZipNotRangeableError(entry?.name ?? '');
    }
    if (options.openAhead !== undefined && typeof options.openAhead !== 'boolean') {
      throw new InvalidArgumentError('openAhead', 'a boolean', options.openAhead);
    }
    const first = start ?? 0;
    if (!Number.isSafeInteger(first)) throw new InvalidArgumentError('start', 'a safe integer', start);
    if (end !== undefined && !Number.isSafeInteger(end))
      throw new InvalidArgumentError('end', 'a safe integer', end);
    if (this.#layout !== undefined) {
      const last = end ?? this.#layout.size - 1;
      if (first < 0 || first > last || last >= this.#layout.size)
        throw new ZipRangeError(first, last, this.#layout.size);
      return streamRange(this.#layout, this.#resolved, first, last, options);
    }
    return streamUnsized(this.#resolved, this.#comment, options);
  }
}

/** A streaming plan with files of unknown size: take their sizes now, then lay out and stream. */
async function* streamUnsized(
  entries: readonly ResolvedEntry[],
  comment: Buffer,
  options: ZipStreamOptions,
): AsyncGenerator<Buffer, void, undefined> {
  const sizes: number[] = [];
  for (const entry of entries) {
    throwIfAborted(options.signal);
    if (entry.size !== undefined) sizes.push(entry.size);
    else sizes.push((await statSource(entry.source!)).size);
  }
  const layout = new Layout(entries, sizes, comment);
  yield* streamRange(layout, entries, 0, layout.size - 1, options);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError('streaming the archive', signal.reason);
}

async function* streamRange(
  layout: Layout,
  entries: readonly ResolvedEntry[],
  start: number,
  end: number,
  options: ZipStreamOptions,
): AsyncGenerator<Buffer, void, undefined> {
  const { signal } = options;
  // CRCs of data-descriptor entries, known once their data went by (they are only streamed whole)
  const computed = new Map<number, number>();
  // deferred CRCs not known yet: computed ahead of the stream (none for a warm plan)
  const firstUnknown = entries.find(
    (entry) => entry.deferred !== undefined && entry.deferred.value === undefined,
  );
  const crcs =
    firstUnknown === undefined
      ? undefined
      : new CrcAhead(layout, entries, { start, end }, firstUnknown.deferred!.parallelism, signal);
  /** The CRC a header of entry `index` carries, when known now (else `crcs` has it computed). */
  const knownCrc = (index: number): number | undefined => {
    const entry = entries[index]!;
    return entry.deferred === undefined ? (entry.crc32 ?? computed.get(index) ?? 0) : entry.deferred.value;
  };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const takePending = (): Buffer => {
    const batch = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return batch;
  };
  const sourceOptions = {
    signal,
    pool: options.pool,
    // Fair turns, except when this stream opens ahead: its next file's reader, waiting for the
    // pool, would take the current file's window from under it (with one slab: a deadlock).
    fairTurns: options.openAhead !== true,
  };
  /** `after`: the reader of the file before, whose windows the next one continues (not with a pool). */
  const openPiece = (piece: number, after?: ManagedReader): DataSource => {
    const pieceStart = layout.pieceStart[piece]!;
    const index = layout.pieceEntry[piece]!;
    const from = Math.max(start, pieceStart) - pieceStart;
    const to = Math.min(end, layout.pieceStart[piece + 1]! - 1) - pieceStart;
    const windows =
      after === undefined || options.pool !== undefined
        ? sourceOptions
        : { ...sourceOptions, windowSize: after.windowSize, readAhead: after.readAhead };
    return new DataSource(piece, entries[index]!, layout.records[index]!.size, from, to, windows);
  };
  /** The next file's data, opened (and its first window read) while this file's last windows go by. */
  let ahead: DataSource | undefined;
  const openAhead = options.openAhead ?? options.pool === undefined;
  /**
   * The check that the last file read (over 16 KiB) was not changed while it was read: it runs
   * while the next file streams, and is awaited when that one is read and before the stream ends.
   */
  let unchanged: Promise<void> | undefined;
  /**
   * With openAhead, the close of the file whose last window went out: it runs while the next file
   * streams and is awaited before another file is opened ahead (two files open at most) and before
   * the stream ends.
   */
  let closing: Promise<void> | undefined;
  try {
    let position = start;
    for (let piece = layout.findPiece(start); position <= end; piece++) {
      throwIfAborted(signal);
      crcs?.advance(position);
      const pieceStart = layout.pieceStart[piece]!;
      const from = position - pieceStart;
      const to = Math.min(end, layout.pieceStart[piece + 1]! - 1) - pieceStart; // inclusive
      const index = layout.pieceEntry[piece]!;
      const kind = layout.pieceKind[piece];
      if (kind === PIECE_DATA) {
        // small data joins the header batch (a copy: the window is only lent); large data is yielded as is
        const small = to - from + 1 <= SMALL_DATA_BYTES;
        if (!small && pendingBytes > 0) yield takePending();
        const entry = entries[index]!;
        const record = layout.records[index]!;
        // a data descriptor's CRC, or the check of a racily clean file's bytes against its deferred CRC
        const wantCrc =
          record.dataDescriptor || (entry.deferred?.verify === true && from === 0 && to === record.size - 1);
        if (ahead !== undefined && ahead.piece !== piece) await ahead.close(); // never: it is the next one
        const source = ahead?.piece === piece ? ahead : openPiece(piece);
        ahead = undefined;
        const nextPiece = openAhead ? nextDataPiece(layout, piece, end) : -1;
        let read = false;
        try {
          const reader = await source.opened;
          let crc = 0;
          for (let window = await source.first(); window !== null; ) {
            if (wantCrc) crc = crc32(window, crc);
            // every byte left of this file is being read already: start on the next file
            if (
              nextPiece !== -1 &&
              ahead === undefined &&
              reader.end + 1 - reader.position <= reader.windowSize * reader.readAhead
            ) {
              await closing;
              ahead = openPiece(nextPiece, reader);
              ahead.prime();
            }
            if (small) {
              pending.push(Buffer.from(window));
              pendingBytes += window.length;
            } else {
              yield window;
              crcs?.advance(pieceStart + reader.position);
            }
            // after the range's last byte, no read is left to wait for
            window = reader.position > reader.end ? null : await reader.next();
          }
          if (record.dataDescriptor) computed.set(index, crc);
          else if (wantCrc && crc !== entry.deferred!.value) {
            throw new ZipSourceChangedError(entry.source!, 'CRC-32', entry.deferred!.value!, crc);
          }
          read = true;
        } finally {
          // at once when the consumer stopped early (or without openAhead: one file open at a time)
          if (read && openAhead) {
            closing = source.close();
            closing.catch(() => {}); // awaited later
          } else {
            await source.close();
          }
        }
        if (!small) {
          // small files are read with one read right after the check at open
          await unchanged;
          unchanged = source.checkUnchanged();
          unchanged.catch(() => {}); // awaited later
        }
        if (pendingBytes >= HEADER_BATCH_BYTES) yield takePending();
      } else {
        let crc = kind === PIECE_END ? 0 : knownCrc(index);
        crc ??= await crcs!.crcOf(index);
        const bytes = layout.render(piece, crc);
        pending.push(from === 0 && to === bytes.length - 1 ? bytes : bytes.subarray(from, to + 1));
        pendingBytes += to - from + 1;
        if (pendingBytes >= HEADER_BATCH_BYTES) yield takePending();
      }
      position = pieceStart + to + 1;
    }
    await unchanged;
    await closing;
    if (pendingBytes > 0) yield takePending();
  } finally {
    await closing?.catch(() => {});
    await ahead?.close();
    await crcs?.close();
    await unchanged?.catch(() => {});
  }
}

/** The first data piece after `piece` that starts at or before `end`, or -1. */
function nextDataPiece(layout: Layout, piece: number, end: number): number {
  for (let next = piece + 1; next < layout.pieceCount && layout.pieceStart[next]! <= end; next++) {
    if (layout.pieceKind[next] === PIECE_DATA) return next;
  }
  return -1;
}
