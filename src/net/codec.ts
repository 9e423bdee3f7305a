/**
 * The frame codec: every frame is a u32 big-endian length prefix followed by that many payload bytes.
 *
 * ```
 * offset 0  u32 BE  length L of the payload (the prefix itself not counted), 0 <= L <= maxFrameSize
 * offset 4  L bytes payload
 * ```
 *
 * `FrameDecoder` reassembles frames from chunks cut at any boundary. A frame lying whole inside
 * one chunk is handed out as a view of that chunk (no copy): Node gives every `'data'` event a
 * fresh buffer, so the view stays valid for as long as the receiver keeps it. A frame split
 * across chunks is gathered by reference and copied once, when its last byte arrives, so a peer
 * that announces a large frame and trickles it costs only the bytes it has really sent.
 */
import { Buffer } from 'node:buffer';
import { FrameTooLargeError, InvalidArgumentError } from '../errors.js';

/** Bytes of the length prefix. */
export const LENGTH_PREFIX_BYTES = 4;

/** 4 MiB: large enough for any message a request/reply protocol should carry in one frame. */
export const DEFAULT_MAX_FRAME_SIZE = 4 * 1024 * 1024;

/** 2^32 - 1: what a u32 prefix can express. */
export const MAX_FRAME_SIZE_LIMIT = 0xffff_ffff;

export function checkMaxFrameSize(value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 1 ||
    value > MAX_FRAME_SIZE_LIMIT
  ) {
    throw new InvalidArgumentError('maxFrameSize', `an integer in [1, ${MAX_FRAME_SIZE_LIMIT}]`, value);
  }
  return value;
}

/**
 * The u32 big-endian at `offset` (the caller knows the 4 bytes are there). `Buffer#readUInt32BE`
 * validates its argument through a wrapper that stays unoptimized; this is plain loads, and the
 * decoding path runs once per frame, often just after the process woke up with cold caches.
 */
export function readU32(source: Uint8Array, offset: number): number {
  return (
    source[offset]! * 0x100_0000 +
    ((source[offset + 1]! << 16) | (source[offset + 2]! << 8) | source[offset + 3]!)
  );
}

/** Returns `payload` with its length prefix, as one new buffer. */
export function encodeFrame(payload: Uint8Array, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): Buffer {
  if (payload.length > maxFrameSize) throw new FrameTooLargeError(payload.length, maxFrameSize);
  const frame = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, LENGTH_PREFIX_BYTES);
  return frame;
}

/** Receives a frame as `source[start, end)`: no view is created unless the receiver makes one. */
export type FrameRangeHandler = (source: Buffer, start: number, end: number) => void;

export interface FrameDecoderOptions {
  maxFrameSize?: number;
  /** Replaces `onFrame` (which is then ignored): saves a view per frame where the receiver parses in place. */
  onFrameRange?: FrameRangeHandler;
}

const EMPTY = Buffer.alloc(0);

/**
 * Push-based decoder. `push(chunk)` calls `onFrame` synchronously for every frame the chunk
 * completes and throws `FrameTooLargeError` as soon as a prefix over `maxFrameSize` is seen (before
 * any of that frame's payload is buffered). After an error, or after `stop()`, it ignores input.
 *
 * Invariant: when `#payloadLength === -1` the decoder is reading a prefix and has `#prefixFill`
 * bytes of it in `#prefix`; otherwise it is gathering a payload and holds `#gatheredBytes` of it
 * in `#gathered`.
 */
export class FrameDecoder {
  readonly maxFrameSize: number;
  readonly #onFrame: FrameRangeHandler;
  readonly #prefix = Buffer.alloc(LENGTH_PREFIX_BYTES);
  #prefixFill = 0;
  #payloadLength = -1;
  #gathered: Buffer[] = [];
  #gatheredBytes = 0;
  #stopped = false;
  #paused = false;
  /** The unread rest of a chunk, kept while paused. */
  #held: Buffer | undefined;

  constructor(onFrame: (payload: Buffer) => void, options: FrameDecoderOptions = {}) {
    this.maxFrameSize = checkMaxFrameSize(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE);
    this.#onFrame = options.onFrameRange ?? ((source, start, end) => onFrame(source.subarray(start, end)));
  }

  /** Bytes held for a frame not yet complete (prefix bytes included). */
  get bufferedBytes(): number {
    return this.#payloadLength === -1 ? this.#prefixFill : LENGTH_PREFIX_BYTES + this.#gatheredBytes;
  }

  /** Whether the input so far ends exactly at a frame boundary. */
  get atBoundary(): boolean {
    return this.#payloadLength === -1 && this.#prefixFill === 0;
  }

  /** Drops any partial frame and ignores all later input. */
  stop(): void {
    this.#stopped = true;
    this.#held = undefined;
    this.#gathered = [];
    this.#gatheredBytes = 0;
  }

  /** Whether `pause()` is in effect. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Stops handing out frames, even in the middle of a chunk (callable from `onFrame`): the rest of
   * the chunk is kept, by reference, until `resume()`. The caller must stop reading its source too.
   */
  pause(): void {
    this.#paused = true;
  }

  /** Hands out the frames held back by `pause()`, then carries on with new input. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) this.push(held);
  }

  push(chunk: Buffer): void {
    if (this.#paused) {
      this.#held = this.#held === undefined ? chunk : Buffer.concat([this.#held, chunk]);
      return;
    }
    let offset = 0;
    const end = chunk.length;
    while (offset < end && !this.#stopped) {
      if (this.#paused) {
        this.#held = chunk.subarray(offset);
        return;
      }
      if (this.#payloadLength === -1) {
        if (this.#prefixFill === 0 && end - offset >= LENGTH_PREFIX_BYTES) {
          // Fast path: the whole prefix is in this chunk.
          const length = readU32(chunk, offset);
          this.#checkLength(length);
          offset += LENGTH_PREFIX_BYTES;
          if (end - offset >= length) {
            const start = offset;
            offset += length;
            this.#onFrame(chunk, start, offset);
            continue;
          }
          this.#payloadLength = length;
          continue;
        }
        const take = Math.min(LENGTH_PREFIX_BYTES - this.#prefixFill, end - offset);
        chunk.copy(this.#prefix, this.#prefixFill, offset, offset + take);
        this.#prefixFill += take;
        offset += take;
        if (this.#prefixFill < LENGTH_PREFIX_BYTES) return;
        this.#prefixFill = 0;
        const length = readU32(this.#prefix, 0);
        this.#checkLength(length);
        if (length === 0) {
          this.#onFrame(EMPTY, 0, 0);
          continue;
        }
        this.#payloadLength = length;
        continue;
      }
      const missing = this.#payloadLength - this.#gatheredBytes;
      const take = Math.min(missing, end - offset);
      if (take === missing && this.#gatheredBytes === 0) {
        // The whole payload is in this chunk after all (its prefix came in an earlier one).
        const start = offset;
        offset += take;
        this.#payloadLength = -1;
        this.#onFrame(chunk, start, offset);
        continue;
      }
      this.#gathered.push(chunk.subarray(offset, offset + take));
      this.#gatheredBytes += take;
      offset += take;
      if (this.#gatheredBytes === this.#payloadLength) {
        const payload = Buffer.concat(this.#gathered, this.#gatheredBytes);
        this.#gathered = [];
        this.#gatheredBytes = 0;
        this.#payloadLength = -1;
        this.#onFrame(payload, 0, payload.length);
      }
    }
  }

  #checkLength(length: number): void {
    if (length > this.maxFrameSize) {
      this.stop();
      throw new FrameTooLargeError(length, this.maxFrameSize);
    }
  }
}
