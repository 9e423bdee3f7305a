/**
 * The exact byte layout of an archive as a piece map: every record and every file's data is a
 * piece with a start offset, so the piece holding any byte is found by binary search and a range
 * is produced without generating the bytes before it.
 *
 * Archive order (4.3.6): for each entry [local file header][data][data descriptor, streaming only],
 * then the central directory headers, then [ZIP64 end record + locator when needed][end record].
 */
import type { ResolvedEntry } from './entries.js';
import {
  centralHeader,
  centralHeaderLength,
  type DirectoryEnd,
  dataDescriptor,
  dataDescriptorLength,
  directoryEnd,
  directoryEndLength,
  type EntryRecord,
  localHeader,
  localHeaderLength,
} from './headers.js';

export const PIECE_LOCAL = 0;
export const PIECE_DATA = 1;
export const PIECE_DESCRIPTOR = 2;
export const PIECE_CENTRAL = 3;
export const PIECE_END = 4;

export class Layout {
  /** The archive's exact length in bytes. */
  readonly size: number;
  readonly records: readonly EntryRecord[];
  readonly directoryEnd: DirectoryEnd;
  /** Piece i covers [pieceStart[i], pieceStart[i + 1]); pieceStart[pieceCount] === size. */
  readonly pieceStart: Float64Array;
  readonly pieceKind: Uint8Array;
  readonly pieceEntry: Uint32Array;
  readonly pieceCount: number;

  /** `sizes[i]` is entry i's data length (0 for folders), resolved by the caller. */
  constructor(entries: readonly ResolvedEntry[], sizes: readonly number[], comment: Buffer) {
    const records: EntryRecord[] = [];
    // at most 3 pieces per entry (local, data, descriptor) + 1 central each + 1 end
    const capacity = entries.length * 4 + 1;
    const pieceStart = new Float64Array(capacity + 1);
    const pieceKind = new Uint8Array(capacity);
    const pieceEntry = new Uint32Array(capacity);
    let count = 0;
    let offset = 0;
    const add = (kind: number, entry: number, length: number): void => {
      if (length === 0) return; // empty data has no piece: every piece holds at least one byte
      pieceStart[count] = offset;
      pieceKind[count] = kind;
      pieceEntry[count] = entry;
      count++;
      offset += length;
    };
    entries.forEach((entry, index) => {
      const record: EntryRecord = {
        nameBytes: entry.nameBytes,
        directory: entry.directory,
        size: sizes[index]!,
        mode: entry.mode,
        mtimeMs: entry.mtimeMs,
        dataDescriptor: !entry.directory && entry.crc32 === undefined && entry.deferred === undefined,
        localHeaderOffset: offset,
      };
      records.push(record);
      add(PIECE_LOCAL, index, localHeaderLength(record));
      add(PIECE_DATA, index, record.size);
      if (record.dataDescriptor) add(PIECE_DESCRIPTOR, index, dataDescriptorLength(record));
    });
    const centralDirectoryOffset = offset;
    records.forEach((record, index) => {
      add(PIECE_CENTRAL, index, centralHeaderLength(record));
    });
    this.directoryEnd = {
      entryCount: records.length,
      centralDirectoryOffset,
      centralDirectorySize: offset - centralDirectoryOffset,
      comment,
    };
    add(PIECE_END, 0, directoryEndLength(this.directoryEnd));
    pieceStart[count] = offset;
    if (!Number.isSafeInteger(offset)) throw new RangeError(`archive of ${offset} bytes is too large`);
    this.size = offset;
    this.records = records;
    this.pieceStart = pieceStart;
    this.pieceKind = pieceKind;
    this.pieceEntry = pieceEntry;
    this.pieceCount = count;
  }

  /** The index of the piece holding byte `offset` (0 <= offset < size): the last piece starting at or before it. */
  findPiece(offset: number): number {
    let low = 0;
    let high = this.pieceCount - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.pieceStart[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** The bytes of a header piece (not `PIECE_DATA`); `crc32` is its entry's CRC. */
  render(piece: number, crc32: number): Buffer {
    const kind = this.pieceKind[piece];
    if (kind === PIECE_END) return directoryEnd(this.directoryEnd);
    const record = this.records[this.pieceEntry[piece]!]!;
    switch (kind) {
      case PIECE_LOCAL:
        return localHeader(record, crc32);
      case PIECE_DESCRIPTOR:
        return dataDescriptor(record, crc32);
      case PIECE_CENTRAL:
        return centralHeader(record, crc32);
      default:
        throw new Error(`piece ${piece} is file data, not a header`);
    }
  }
}
