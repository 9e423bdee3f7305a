import { framedSize, RECORD_ALIGNMENT, RECORD_HEADER_BYTES, recordChecksum } from './format.js';

/** Where and why decoding a segment stopped. */
export type DecodeStop =
  /** The data ended exactly at a record boundary at the end of the file. */
  | { kind: 'eof'; offset: number }
  /** A record header of 16 zero bytes: the end of the written part (the rest is preallocated). */
  | { kind: 'zero'; offset: number }
  /** A damaged, stale or partially written record. */
  | { kind: 'invalid'; offset: number; reason: string };

export interface DecodedRecord {
  lsn: number;
  /** Offset of the record header in its segment. */
  offset: number;
  /** A copy: it stays valid after the window it came from is reused. */
  payload: Buffer;
}

export interface DecoderOptions {
  /** Segment offset of the first byte pushed (just after the segment header). */
  offset: number;
  /** The LSN the first record must carry; each next one is the previous + 1. */
  expectedLsn: number;
  /** Size of the segment file: no record may run past it. */
  fileSize: number;
  /** Longest payload accepted: a longer length field is damage, not a record (bounds the carry). */
  maxPayloadBytes: number;
}

const ZERO_HEADER = new Uint8Array(RECORD_HEADER_BYTES);

/**
 * An incremental decoder of the records of one segment, fed windows of any size and boundaries.
 * Every record it yields passed its CRC-32C, length and LSN checks; it never throws on bad input,
 * it stops and says why. Memory: it carries at most one partial record (<= `maxPayloadBytes` + 16).
 */
export class RecordDecoder {
  #offset: number;
  #expectedLsn: number;
  readonly #fileSize: number;
  readonly #maxPayloadBytes: number;
  #carry: Buffer = Buffer.alloc(0);
  #stop: DecodeStop | undefined;

  constructor(options: DecoderOptions) {
    this.#offset = options.offset;
    this.#expectedLsn = options.expectedLsn;
    this.#fileSize = options.fileSize;
    this.#maxPayloadBytes = options.maxPayloadBytes;
  }

  /** The LSN the next record would carry. */
  get nextLsn(): number {
    return this.#expectedLsn;
  }

  /** Segment offset just past the last good record. */
  get offset(): number {
    return this.#offset;
  }

  get stop(): DecodeStop | undefined {
    return this.#stop;
  }

  /**
   * After a stop: the bytes from the stop offset to the end of the window that caused it (the caller
   * inspects the tail from there; later windows are not kept).
   */
  get remainder(): Buffer {
    return this.#carry;
  }

  /** Decodes what `window` completes; returns the good records in order. A no-op after a stop. */
  push(window: Uint8Array): DecodedRecord[] {
    const records: DecodedRecord[] = [];
    if (this.#stop !== undefined) return records;
    let bytes =
      this.#carry.length === 0
        ? Buffer.from(window.buffer, window.byteOffset, window.byteLength)
        : Buffer.concat([this.#carry, window]);
    let position = 0;
    while (bytes.length - position >= RECORD_HEADER_BYTES) {
      const header = bytes.subarray(position, position + RECORD_HEADER_BYTES);
      const reason = this.#checkHeader(header);
      if (reason === 'zero') {
        this.#stop = { kind: 'zero', offset: this.#offset };
        break;
      }
      if (reason !== undefined) {
        this.#stop = { kind: 'invalid', offset: this.#offset, reason };
        break;
      }
      const length = header.readUInt32LE(4);
      const size = framedSize(length);
      if (bytes.length - position < size) break;
      const payload = bytes.subarray(position + RECORD_HEADER_BYTES, position + RECORD_HEADER_BYTES + length);
      if (header.readUInt32LE(0) !== recordChecksum(header, payload)) {
        this.#stop = { kind: 'invalid', offset: this.#offset, reason: 'record checksum mismatch' };
        break;
      }
      records.push({ lsn: this.#expectedLsn, offset: this.#offset, payload: Buffer.from(payload) });
      this.#expectedLsn++;
      this.#offset += size;
      position += size;
    }
    // Keep the unconsumed bytes: a partial record, or after a stop everything from the stop on.
    // Copy, because the caller may reuse `window`.
    bytes = bytes.subarray(position);
    this.#carry = Buffer.from(bytes);
    return records;
  }

  /** Call at the end of the file: returns where and why decoding stopped. */
  finish(): DecodeStop {
    if (this.#stop !== undefined) return this.#stop;
    // Fewer than 16 bytes of zeros at the end (a preallocated segment whose last record ended
    // closer than a header to its end) are an end marker too.
    const zeroTail = this.#carry.length < RECORD_HEADER_BYTES && this.#carry.every((byte) => byte === 0);
    this.#stop =
      this.#carry.length === 0
        ? { kind: 'eof', offset: this.#offset }
        : zeroTail
          ? { kind: 'zero', offset: this.#offset }
          : {
              kind: 'invalid',
              offset: this.#offset,
              reason: `partial record: ${this.#carry.length} bytes at the end of the file`,
            };
    return this.#stop;
  }

  /** Why the header cannot start a good record, 'zero' for the end marker, undefined when it can. */
  #checkHeader(header: Buffer): string | undefined {
    if (Buffer.compare(header, ZERO_HEADER) === 0) return 'zero';
    if (this.#offset % RECORD_ALIGNMENT !== 0) return `misaligned offset ${this.#offset}`;
    const length = header.readUInt32LE(4);
    if (length > this.#maxPayloadBytes)
      return `length ${length} is over the limit of ${this.#maxPayloadBytes}`;
    if (this.#offset + framedSize(length) > this.#fileSize)
      return `length ${length} runs past the end of the segment (${this.#fileSize} bytes)`;
    const lsn = header.readBigUInt64LE(8);
    if (lsn !== BigInt(this.#expectedLsn)) return `LSN ${lsn} where ${this.#expectedLsn} was expected`;
    return undefined;
  }
}
