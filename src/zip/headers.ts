/**
 * The records of a store-only ZIP archive, byte for byte, after PKWARE's APPNOTE.TXT 6.3.10
 * (section numbers below are APPNOTE's). Every function here is pure: the same entry gives the same
 * bytes, so an archive's layout (and length) is known before any file is read.
 */

/** 4.4.1.4: a field of 0xFFFFFFFF (or 0xFFFF) says "see the ZIP64 record". */
export const ZIP64_LIMIT_32 = 0xffffffff;
export const ZIP64_LIMIT_16 = 0xffff;

const LOCAL_FILE_HEADER_SIGNATURE = 0x04034b50; // 4.3.7
const DATA_DESCRIPTOR_SIGNATURE = 0x08074b50; // 4.3.9.3
const CENTRAL_FILE_HEADER_SIGNATURE = 0x02014b50; // 4.3.12
const ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06064b50; // 4.3.14
const ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIGNATURE = 0x07064b50; // 4.3.15
const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50; // 4.3.16

/** 4.4.2: upper byte 3 = UNIX (so external attributes carry the mode), lower byte 63 = spec 6.3. */
const VERSION_MADE_BY = (3 << 8) | 63;
/** 4.4.3.2: 1.0 default, 2.0 folders and data descriptors, 4.5 ZIP64. */
const VERSION_DEFAULT = 10;
const VERSION_FOLDER_OR_DESCRIPTOR = 20;
const VERSION_ZIP64 = 45;

/** 4.4.4 general purpose bit flags: bit 3, sizes and CRC follow the data; bit 11, UTF-8 names. */
const FLAG_DATA_DESCRIPTOR = 1 << 3;
const FLAG_UTF8 = 1 << 11;

/** 4.5.3 ZIP64 extended information extra field. */
const ZIP64_EXTRA_ID = 0x0001;
/** Info-ZIP extended timestamp (APPNOTE 4.6 list, "UT", 0x5455): flags + mtime as Unix seconds. */
const EXTENDED_TIMESTAMP_ID = 0x5455;
const EXTENDED_TIMESTAMP_LENGTH = 9; // id 2 + size 2 + flags 1 + mtime 4
const EXTENDED_TIMESTAMP_HAS_MTIME = 0x01;

/** 4.4.5: compression method 0, stored. */
const METHOD_STORED = 0;

/** What the records need to know of one entry, everything resolved (the plan's view). */
export interface EntryRecord {
  /** UTF-8 bytes of the name; folders end in '/'. */
  readonly nameBytes: Buffer;
  readonly directory: boolean;
  /** Bytes of data (0 for folders). */
  readonly size: number;
  /** Unix mode including the file type bits (S_IFREG / S_IFDIR). */
  readonly mode: number;
  readonly mtimeMs: number;
  /** Sizes and CRC follow the data in a data descriptor (4.3.9); the local header has zeros. */
  readonly dataDescriptor: boolean;
  /** Offset of the local file header from the start of the archive. */
  readonly localHeaderOffset: number;
}

/** 4.4.9: sizes at or above 0xFFFFFFFF go in the ZIP64 extra field. */
export function needsZip64Size(size: number): boolean {
  return size >= ZIP64_LIMIT_32;
}

function versionNeeded(entry: EntryRecord, zip64: boolean): number {
  if (zip64) return VERSION_ZIP64;
  return entry.directory || entry.dataDescriptor ? VERSION_FOLDER_OR_DESCRIPTOR : VERSION_DEFAULT;
}

function flags(entry: EntryRecord): number {
  return FLAG_UTF8 | (entry.dataDescriptor ? FLAG_DATA_DESCRIPTOR : 0);
}

/**
 * 4.4.6 MS-DOS date and time, 2-second resolution, from the mtime in UTC (not the local time zone:
 * the same input gives the same bytes on every machine; readers that know the extended timestamp
 * use that instead). Clamped to the range DOS can express, 1980-01-01 to 2107-12-31.
 */
export function dosDateTime(mtimeMs: number): { date: number; time: number } {
  const minimum = Date.UTC(1980, 0, 1);
  const maximum = Date.UTC(2107, 11, 31, 23, 59, 58);
  const clamped = new Date(Math.min(Math.max(mtimeMs, minimum), maximum));
  const time =
    (clamped.getUTCHours() << 11) | (clamped.getUTCMinutes() << 5) | (clamped.getUTCSeconds() >> 1);
  const date =
    ((clamped.getUTCFullYear() - 1980) << 9) | ((clamped.getUTCMonth() + 1) << 5) | clamped.getUTCDate();
  return { date, time };
}

/** Unix seconds for the extended timestamp: a signed 32-bit field, so clamped to 1901..2038. */
export function unixSeconds(mtimeMs: number): number {
  return Math.min(Math.max(Math.floor(mtimeMs / 1000), -0x80000000), 0x7fffffff);
}

function writeUInt64(buffer: Buffer, value: number, offset: number): number {
  buffer.writeUInt32LE(value % 0x100000000, offset);
  buffer.writeUInt32LE(Math.floor(value / 0x100000000), offset + 4);
  return offset + 8;
}

function writeExtendedTimestamp(buffer: Buffer, mtimeMs: number, offset: number): number {
  let at = buffer.writeUInt16LE(EXTENDED_TIMESTAMP_ID, offset);
  at = buffer.writeUInt16LE(EXTENDED_TIMESTAMP_LENGTH - 4, at);
  at = buffer.writeUInt8(EXTENDED_TIMESTAMP_HAS_MTIME, at);
  return buffer.writeInt32LE(unixSeconds(mtimeMs), at);
}

// 4.3.7 Local file header --------------------------------------------------------------------

/**
 * Large entries carry the ZIP64 extra field in the local header too, with BOTH sizes (4.5.3:
 * "the Local header MUST include BOTH original and compressed file size fields"), and 0xFFFFFFFF in
 * the 32-bit size fields. With a data descriptor the local sizes are 0 (4.4.4 bit 3).
 */
function localZip64(entry: EntryRecord): boolean {
  return needsZip64Size(entry.size);
}

export function localHeaderLength(entry: EntryRecord): number {
  return 30 + entry.nameBytes.length + EXTENDED_TIMESTAMP_LENGTH + (localZip64(entry) ? 20 : 0);
}

export function localHeader(entry: EntryRecord, crc32: number): Buffer {
  const zip64 = localZip64(entry);
  const header = Buffer.allocUnsafe(localHeaderLength(entry));
  const { date, time } = dosDateTime(entry.mtimeMs);
  const known = !entry.dataDescriptor;
  const size32 = !known ? 0 : zip64 ? ZIP64_LIMIT_32 : entry.size;
  let at = header.writeUInt32LE(LOCAL_FILE_HEADER_SIGNATURE, 0);
  at = header.writeUInt16LE(versionNeeded(entry, zip64), at);
  at = header.writeUInt16LE(flags(entry), at);
  at = header.writeUInt16LE(METHOD_STORED, at);
  at = header.writeUInt16LE(time, at);
  at = header.writeUInt16LE(date, at);
  at = header.writeUInt32LE(known ? crc32 : 0, at);
  at = header.writeUInt32LE(size32, at); // compressed size
  at = header.writeUInt32LE(size32, at); // uncompressed size
  at = header.writeUInt16LE(entry.nameBytes.length, at);
  at = header.writeUInt16LE(EXTENDED_TIMESTAMP_LENGTH + (zip64 ? 20 : 0), at);
  at += entry.nameBytes.copy(header, at);
  if (zip64) {
    at = header.writeUInt16LE(ZIP64_EXTRA_ID, at);
    at = header.writeUInt16LE(16, at);
    at = writeUInt64(header, known ? entry.size : 0, at); // original size
    at = writeUInt64(header, known ? entry.size : 0, at); // compressed size
  }
  writeExtendedTimestamp(header, entry.mtimeMs, at);
  return header;
}

// 4.3.9 Data descriptor ----------------------------------------------------------------------

/** With the optional signature (4.3.9.3); 8-byte sizes for ZIP64 entries (4.3.9.2). */
export function dataDescriptorLength(entry: EntryRecord): number {
  return localZip64(entry) ? 24 : 16;
}

export function dataDescriptor(entry: EntryRecord, crc32: number): Buffer {
  const descriptor = Buffer.allocUnsafe(dataDescriptorLength(entry));
  let at = descriptor.writeUInt32LE(DATA_DESCRIPTOR_SIGNATURE, 0);
  at = descriptor.writeUInt32LE(crc32, at);
  if (localZip64(entry)) {
    at = writeUInt64(descriptor, entry.size, at);
    writeUInt64(descriptor, entry.size, at);
  } else {
    at = descriptor.writeUInt32LE(entry.size, at);
    descriptor.writeUInt32LE(entry.size, at);
  }
  return descriptor;
}

// 4.3.12 Central directory file header -------------------------------------------------------

/** 4.5.3: the central ZIP64 extra holds only the fields that overflowed, in this order. */
function centralZip64Fields(entry: EntryRecord): { sizes: boolean; offset: boolean } {
  return { sizes: needsZip64Size(entry.size), offset: entry.localHeaderOffset >= ZIP64_LIMIT_32 };
}

function centralZip64Length(entry: EntryRecord): number {
  const fields = centralZip64Fields(entry);
  const count = (fields.sizes ? 2 : 0) + (fields.offset ? 1 : 0);
  return count === 0 ? 0 : 4 + 8 * count;
}

export function centralHeaderLength(entry: EntryRecord): number {
  return 46 + entry.nameBytes.length + EXTENDED_TIMESTAMP_LENGTH + centralZip64Length(entry);
}

export function centralHeader(entry: EntryRecord, crc32: number): Buffer {
  const header = Buffer.allocUnsafe(centralHeaderLength(entry));
  const fields = centralZip64Fields(entry);
  const zip64Length = centralZip64Length(entry);
  const { date, time } = dosDateTime(entry.mtimeMs);
  const size32 = fields.sizes ? ZIP64_LIMIT_32 : entry.size;
  // 4.4.15: Unix mode in the high 16 bits; the MS-DOS directory attribute (0x10) for folders.
  const externalAttributes = ((entry.mode & 0xffff) * 0x10000 + (entry.directory ? 0x10 : 0)) >>> 0;
  let at = header.writeUInt32LE(CENTRAL_FILE_HEADER_SIGNATURE, 0);
  at = header.writeUInt16LE(VERSION_MADE_BY, at);
  // The version needed matches the local header's (4.4.3), which has ZIP64 only for large sizes.
  at = header.writeUInt16LE(versionNeeded(entry, localZip64(entry) || fields.offset), at);
  at = header.writeUInt16LE(flags(entry), at);
  at = header.writeUInt16LE(METHOD_STORED, at);
  at = header.writeUInt16LE(time, at);
  at = header.writeUInt16LE(date, at);
  at = header.writeUInt32LE(crc32, at);
  at = header.writeUInt32LE(size32, at);
  at = header.writeUInt32LE(size32, at);
  at = header.writeUInt16LE(entry.nameBytes.length, at);
  at = header.writeUInt16LE(EXTENDED_TIMESTAMP_LENGTH + zip64Length, at);
  at = header.writeUInt16LE(0, at); // file comment length
  at = header.writeUInt16LE(0, at); // disk number start
  at = header.writeUInt16LE(0, at); // internal file attributes
  at = header.writeUInt32LE(externalAttributes, at);
  at = header.writeUInt32LE(fields.offset ? ZIP64_LIMIT_32 : entry.localHeaderOffset, at);
  at += entry.nameBytes.copy(header, at);
  if (zip64Length > 0) {
    at = header.writeUInt16LE(ZIP64_EXTRA_ID, at);
    at = header.writeUInt16LE(zip64Length - 4, at);
    if (fields.sizes) {
      at = writeUInt64(header, entry.size, at); // original size
      at = writeUInt64(header, entry.size, at); // compressed size
    }
    if (fields.offset) at = writeUInt64(header, entry.localHeaderOffset, at);
  }
  writeExtendedTimestamp(header, entry.mtimeMs, at);
  return header;
}

// 4.3.14 - 4.3.16 End of central directory ---------------------------------------------------

export interface DirectoryEnd {
  entryCount: number;
  centralDirectoryOffset: number;
  centralDirectorySize: number;
  comment: Buffer;
}

/** 4.4.1.4: ZIP64 end records exactly when a count, size or offset does not fit the 16/32-bit fields. */
export function needsZip64End(end: DirectoryEnd): boolean {
  return (
    end.entryCount >= ZIP64_LIMIT_16 ||
    end.centralDirectorySize >= ZIP64_LIMIT_32 ||
    end.centralDirectoryOffset >= ZIP64_LIMIT_32
  );
}

export function directoryEndLength(end: DirectoryEnd): number {
  return (needsZip64End(end) ? 56 + 20 : 0) + 22 + end.comment.length;
}

/** The ZIP64 end of central directory record and locator when needed, then the classic end record. */
export function directoryEnd(end: DirectoryEnd): Buffer {
  const zip64 = needsZip64End(end);
  const record = Buffer.allocUnsafe(directoryEndLength(end));
  let at = 0;
  if (zip64) {
    const zip64EndOffset = end.centralDirectoryOffset + end.centralDirectorySize;
    // 4.3.14 Zip64 end of central directory record (version 1: no extensible data)
    at = record.writeUInt32LE(ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE, at);
    at = writeUInt64(record, 56 - 12, at); // size of the record after this field
    at = record.writeUInt16LE(VERSION_MADE_BY, at);
    at = record.writeUInt16LE(VERSION_ZIP64, at);
    at = record.writeUInt32LE(0, at); // number of this disk
    at = record.writeUInt32LE(0, at); // disk where the central directory starts
    at = writeUInt64(record, end.entryCount, at); // entries on this disk
    at = writeUInt64(record, end.entryCount, at); // entries in total
    at = writeUInt64(record, end.centralDirectorySize, at);
    at = writeUInt64(record, end.centralDirectoryOffset, at);
    // 4.3.15 Zip64 end of central directory locator
    at = record.writeUInt32LE(ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIGNATURE, at);
    at = record.writeUInt32LE(0, at); // disk with the ZIP64 end record
    at = writeUInt64(record, zip64EndOffset, at);
    at = record.writeUInt32LE(1, at); // total number of disks
  }
  // 4.3.16 End of central directory record
  const count16 = Math.min(end.entryCount, ZIP64_LIMIT_16);
  at = record.writeUInt32LE(END_OF_CENTRAL_DIRECTORY_SIGNATURE, at);
  at = record.writeUInt16LE(0, at); // number of this disk
  at = record.writeUInt16LE(0, at); // disk where the central directory starts
  at = record.writeUInt16LE(count16, at);
  at = record.writeUInt16LE(count16, at);
  at = record.writeUInt32LE(Math.min(end.centralDirectorySize, ZIP64_LIMIT_32), at);
  at = record.writeUInt32LE(Math.min(end.centralDirectoryOffset, ZIP64_LIMIT_32), at);
  at = record.writeUInt16LE(end.comment.length, at);
  end.comment.copy(record, at);
  return record;
}
