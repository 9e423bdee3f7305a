import { mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { WalCorruptError, WalTornTailError } from '../errors.js';
import { type DecodeStop, RecordDecoder } from './decoder.js';
import {
  decodeSegmentHeader,
  PREALLOCATED_NAME,
  parseSegmentName,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  type SegmentHeader,
} from './format.js';
import { readWindows } from './read.js';

export const READ_WINDOW_BYTES = 1 << 20;
const ZEROS = Buffer.alloc(READ_WINDOW_BYTES);

export interface SegmentFile {
  name: string;
  path: string;
  firstLsn: number;
}

export interface Recovered {
  segments: SegmentFile[];
  /** The LSN the next appended record gets. */
  nextLsn: number;
  /** The segment to continue writing in (the newest), or undefined for an empty log. */
  active:
    | { path: string; firstLsn: number; writeOffset: number; segmentSize: number; maxBatchBytes: number }
    | undefined;
  /** Records verified (checksum, length, LSN) during recovery. */
  records: number;
  /** Bytes of a torn tail cut off (0 when the log ended cleanly). */
  tornBytes: number;
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The segment files of `dir`, oldest first. */
export async function listSegments(dir: string): Promise<SegmentFile[]> {
  const segments: SegmentFile[] = [];
  for (const name of await readdir(dir)) {
    const firstLsn = parseSegmentName(name);
    if (firstLsn !== undefined) segments.push({ name, path: path.join(dir, name), firstLsn });
  }
  return segments.sort((a, b) => a.firstLsn - b.firstLsn);
}

export async function readSegmentHeader(segment: SegmentFile): Promise<SegmentHeader> {
  const handle = await open(segment.path, 'r');
  let bytes: Buffer;
  try {
    bytes = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const { bytesRead } = await handle.read(bytes, 0, SEGMENT_HEADER_BYTES, 0);
    bytes = bytes.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const header = decodeSegmentHeader(bytes);
  if (typeof header === 'string') throw new WalCorruptError(segment.name, 0, header);
  if (header.firstLsn !== segment.firstLsn)
    throw new WalCorruptError(segment.name, 16, `header says the first LSN is ${header.firstLsn}`);
  if (header.maxBatchBytes <= RECORD_HEADER_BYTES)
    throw new WalCorruptError(segment.name, 12, `maxBatchBytes ${header.maxBatchBytes} is too small`);
  return header;
}

/** Offset of the first non-zero byte of `bytes`, or -1. Compares in memcmp-sized strides. */
function firstNonZero(bytes: Uint8Array): number {
  for (let start = 0; start < bytes.length; start += ZEROS.length) {
    const end = Math.min(bytes.length, start + ZEROS.length);
    if (Buffer.compare(bytes.subarray(start, end), ZEROS.subarray(0, end - start)) !== 0) {
      for (let index = start; index < end; index++) if (bytes[index] !== 0) return index;
    }
  }
  return -1;
}

interface SegmentScan {
  header: SegmentHeader;
  fileSize: number;
  stop: DecodeStop;
  nextLsn: number;
  records: number;
  /** First non-zero byte at or after the stop offset, if any. */
  firstDataAfterStop: number | undefined;
  /** First non-zero byte at or after stop + maxBatchBytes (beyond anything a torn write can reach). */
  firstDataBeyondTornWindow: number | undefined;
}

async function scanSegment(segment: SegmentFile): Promise<SegmentScan> {
  const header = await readSegmentHeader(segment);
  const fileSize = (await stat(segment.path)).size;
  const decoder = new RecordDecoder({
    offset: SEGMENT_HEADER_BYTES,
    expectedLsn: segment.firstLsn,
    fileSize,
    maxPayloadBytes: header.maxBatchBytes - RECORD_HEADER_BYTES,
  });
  let records = 0;
  let firstDataAfterStop: number | undefined;
  let firstDataBeyondTornWindow: number | undefined;
  const inspect = (bytes: Uint8Array, offset: number, stopOffset: number): void => {
    const tornWindowEnd = stopOffset + header.maxBatchBytes;
    if (firstDataAfterStop === undefined) {
      const found = firstNonZero(bytes);
      if (found !== -1) firstDataAfterStop = offset + found;
    }
    if (firstDataBeyondTornWindow === undefined && offset + bytes.length > tornWindowEnd) {
      const from = Math.max(0, tornWindowEnd - offset);
      const found = firstNonZero(bytes.subarray(from));
      if (found !== -1) firstDataBeyondTornWindow = offset + from + found;
    }
  };
  for await (const window of readWindows(segment.path, SEGMENT_HEADER_BYTES)) {
    const stopped = decoder.stop;
    if (stopped === undefined) {
      records += decoder.push(window.bytes).length;
      const stop = decoder.stop as DecodeStop | undefined;
      if (stop !== undefined) inspect(decoder.remainder, stop.offset, stop.offset);
    } else {
      inspect(window.bytes, window.offset, stopped.offset);
    }
    if (firstDataBeyondTornWindow !== undefined) break;
  }
  return {
    header,
    fileSize,
    stop: decoder.finish(),
    nextLsn: decoder.nextLsn,
    records,
    firstDataAfterStop,
    firstDataBeyondTornWindow,
  };
}

/**
 * Opens (creating) the log directory and verifies every record of every segment.
 *
 * Rules. Segments must chain: each starts at the LSN after the previous one's last record. A segment
 * that is not the newest was complete before the next was created (the writer rolls over only after
 * its last batch was durable), so anything but a clean end in it is corruption. In the newest
 * segment, the first bad record starts the tail: bytes written by a batch that was never acknowledged
 * can only reach `maxBatchBytes` (from its header) past the last durable record, so data beyond that
 * window means damage before the tail (an error with segment and offset); otherwise the tail is
 * torn: cut off by default, refused in `absolute` mode.
 */
export async function recover(dir: string, mode: 'truncate-tail' | 'absolute'): Promise<Recovered> {
  const created = await mkdir(dir, { recursive: true });
  if (created !== undefined) {
    // New directories must survive a crash too: fsync each parent whose entries changed.
    for (let child = dir; child !== path.dirname(created); child = path.dirname(child)) {
      await syncDirectory(path.dirname(child));
    }
  }
  await unlink(path.join(dir, PREALLOCATED_NAME)).catch(() => undefined);
  const segments = await listSegments(dir);
  if (segments.length === 0) return { segments, nextLsn: 1, active: undefined, records: 0, tornBytes: 0 };
  let expectedLsn = segments[0]!.firstLsn;
  let records = 0;
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index]!;
    const isNewest = index === segments.length - 1;
    if (segment.firstLsn !== expectedLsn) {
      throw new WalCorruptError(
        segment.name,
        0,
        `it starts at LSN ${segment.firstLsn} but the previous segment ends before ${expectedLsn}`,
      );
    }
    const scan = await scanSegment(segment);
    records += scan.records;
    expectedLsn = scan.nextLsn;
    const { stop } = scan;
    const clean = stop.kind === 'eof' || (stop.kind === 'zero' && scan.firstDataAfterStop === undefined);
    if (!isNewest) {
      if (!clean) {
        const reason =
          stop.kind === 'invalid'
            ? stop.reason
            : `data after the end marker at offset ${scan.firstDataAfterStop}`;
        throw new WalCorruptError(segment.name, stop.offset, `${reason} (a newer segment exists)`);
      }
      continue;
    }
    if (scan.firstDataBeyondTornWindow !== undefined) {
      const reason = stop.kind === 'invalid' ? stop.reason : 'end marker';
      throw new WalCorruptError(
        segment.name,
        stop.offset,
        `${reason}, and data at offset ${scan.firstDataBeyondTornWindow}, beyond the reach of an unfinished batch`,
      );
    }
    let tornBytes = 0;
    if (!clean) {
      const reason = stop.kind === 'invalid' ? stop.reason : 'bytes after the end marker';
      if (mode === 'absolute') throw new WalTornTailError(segment.name, stop.offset, reason);
      tornBytes = scan.fileSize - stop.offset;
      const handle = await open(segment.path, 'r+');
      try {
        await handle.truncate(stop.offset);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    return {
      segments,
      nextLsn: expectedLsn,
      active: {
        path: segment.path,
        firstLsn: segment.firstLsn,
        writeOffset: stop.offset,
        segmentSize: Math.max(scan.header.segmentSize, stop.offset),
        maxBatchBytes: scan.header.maxBatchBytes,
      },
      records,
      tornBytes,
    };
  }
  throw new Error('unreachable: the loop returns at the newest segment');
}
