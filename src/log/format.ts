/**
 * The on-disk format of the write-ahead log.
 *
 * A log is a directory of segment files named by the LSN of their first record
 * (`00000000000000000001.wal`, 20 decimal digits so names sort like numbers). Each segment is:
 *
 * ```
 * offset 0   segment header, SEGMENT_HEADER_BYTES (32), all little-endian:
 *              0  magic "SLUICWAL" (8 bytes)
 *              8  u32 format version (1)
 *             12  u32 maxBatchBytes of the writer that created it (bounds how far a torn write reaches)
 *             16  u64 first LSN
 *             24  u32 segment size the writer preallocated
 *             28  u32 CRC-32C of bytes 0..27
 * offset 32  records, each at an 8-byte aligned offset:
 *              0  u32 CRC-32C of bytes 4 .. 16 + length (length, LSN and payload)
 *              4  u32 payload length
 *              8  u64 LSN (the previous record's + 1)
 *             16  payload, then zero padding to a multiple of 8
 * then       zeros (preallocated, or a sparse tail) up to the segment size
 * ```
 *
 * A record header of 16 zero bytes marks the end of the written part. Every record's LSN is checked
 * against the one expected, so stale bytes from an earlier use of the space never pass as a record.
 */
import { crc32c } from '@node-rs/crc32';

export const SEGMENT_MAGIC = Buffer.from('SLUICWAL', 'latin1');
export const FORMAT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 32;
export const RECORD_HEADER_BYTES = 16;
export const RECORD_ALIGNMENT = 8;
export const SEGMENT_SUFFIX = '.wal';
/** A segment being preallocated; it becomes a segment only by an atomic rename once its header is durable. */
export const PREALLOCATED_NAME = 'next.wal.tmp';

export interface SegmentHeader {
  version: number;
  maxBatchBytes: number;
  firstLsn: number;
  segmentSize: number;
}

/** Bytes a record with a payload of `length` bytes takes in a segment, header and padding included. */
export function framedSize(length: number): number {
  return RECORD_HEADER_BYTES + ((length + RECORD_ALIGNMENT - 1) & ~(RECORD_ALIGNMENT - 1));
}

export function segmentName(firstLsn: number): string {
  return `${String(firstLsn).padStart(20, '0')}${SEGMENT_SUFFIX}`;
}

/** The first LSN a segment file name stands for, or undefined when the name is not a segment's. */
export function parseSegmentName(name: string): number | undefined {
  if (!/^\d{20}\.wal$/.test(name)) return undefined;
  const lsn = Number(name.slice(0, 20));
  return Number.isSafeInteger(lsn) && lsn >= 1 ? lsn : undefined;
}

export function encodeSegmentHeader(header: SegmentHeader): Buffer {
  const bytes = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(bytes, 0);
  bytes.writeUInt32LE(header.version, 8);
  bytes.writeUInt32LE(header.maxBatchBytes, 12);
  bytes.writeBigUInt64LE(BigInt(header.firstLsn), 16);
  bytes.writeUInt32LE(header.segmentSize, 24);
  bytes.writeUInt32LE(crc32c(bytes.subarray(0, 28)), 28);
  return bytes;
}

/** Decodes a segment header, or returns why it is not one. */
export function decodeSegmentHeader(bytes: Uint8Array): SegmentHeader | string {
  if (bytes.length < SEGMENT_HEADER_BYTES)
    return `header is ${bytes.length} bytes, expected ${SEGMENT_HEADER_BYTES}`;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, SEGMENT_HEADER_BYTES);
  if (!view.subarray(0, 8).equals(SEGMENT_MAGIC)) return 'bad magic';
  if (view.readUInt32LE(28) !== crc32c(view.subarray(0, 28))) return 'header checksum mismatch';
  const version = view.readUInt32LE(8);
  if (version !== FORMAT_VERSION) return `unsupported format version ${version}`;
  const firstLsn = Number(view.readBigUInt64LE(16));
  return { version, maxBatchBytes: view.readUInt32LE(12), firstLsn, segmentSize: view.readUInt32LE(24) };
}

/** A record's CRC-32C over its length and LSN fields (`header` bytes 4..15) and its payload. */
export function recordChecksum(header: Uint8Array, payload: Uint8Array): number {
  return crc32c(payload, crc32c(header.subarray(4, RECORD_HEADER_BYTES)));
}

/** Fills `header` (16 bytes) for a record. */
export function encodeRecordHeader(header: Buffer, lsn: number, payload: Uint8Array): void {
  header.writeUInt32LE(payload.length, 4);
  header.writeBigUInt64LE(BigInt(lsn), 8);
  header.writeUInt32LE(recordChecksum(header, payload), 0);
}

/** Encodes one record (header, payload, padding) as one buffer; used by tests and tools. */
export function encodeRecord(lsn: number, payload: Uint8Array): Buffer {
  const bytes = Buffer.alloc(framedSize(payload.length));
  bytes.set(payload, RECORD_HEADER_BYTES);
  encodeRecordHeader(bytes, lsn, payload);
  return bytes;
}
