/**
 * The `write-per-message` peer of the `coalesce` experiment: the same wire format as sluice/net
 * (u32 length, u8 kind, u32 id, body), written the way most hand-rolled clients do it: one
 * `socket.write` per message, no batching. Kinds: 1 request, 2 reply.
 */
import type { Socket } from 'node:net';

export function encodeNaive(kind: number, id: number, body: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(9 + body.length);
  frame.writeUInt32BE(5 + body.length, 0);
  frame[4] = kind;
  frame.writeUInt32BE(id, 5);
  body.copy(frame, 9);
  return frame;
}

export function naiveReply(socket: Socket, id: number, body: Buffer): void {
  socket.write(encodeNaive(2, id, body));
}

/** A straightforward length-prefixed parser (concatenates what it has buffered). */
export class NaiveFrameParser {
  #buffered: Buffer = Buffer.alloc(0);
  readonly #onFrame: (kind: number, id: number, body: Buffer) => void;

  constructor(onFrame: (kind: number, id: number, body: Buffer) => void) {
    this.#onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    let offset = 0;
    while (this.#buffered.length - offset >= 4) {
      const length = this.#buffered.readUInt32BE(offset);
      if (this.#buffered.length - offset - 4 < length) break;
      const payload = this.#buffered.subarray(offset + 4, offset + 4 + length);
      offset += 4 + length;
      this.#onFrame(payload[0]!, payload.readUInt32BE(1), payload.subarray(5));
    }
    this.#buffered = this.#buffered.subarray(offset);
  }
}

/**
 * Turns requests (kind 1) into replies (kind 2) in place as the bytes stream past, frames cut at
 * any chunk boundary: the bare echo of paired-bench. Walks only prefixes and kind bytes; bodies are
 * skipped whole.
 */
export class KindFlipper {
  /** Prefix bytes seen of the current frame (0-4); 4 means inside its payload. */
  #prefixRead = 0;
  #length = 0;
  /** Payload bytes of the current frame not yet seen. */
  #remaining = 0;

  flip(chunk: Buffer): Buffer {
    let index = 0;
    while (index < chunk.length) {
      if (this.#prefixRead < 4) {
        this.#length = this.#length * 256 + chunk[index++]!;
        if (++this.#prefixRead === 4) {
          this.#remaining = this.#length;
          if (this.#remaining === 0) this.#prefixRead = this.#length = 0;
        }
        continue;
      }
      if (this.#remaining === this.#length && chunk[index] === 1) chunk[index] = 2;
      const take = Math.min(this.#remaining, chunk.length - index);
      index += take;
      this.#remaining -= take;
      if (this.#remaining === 0) this.#prefixRead = this.#length = 0;
    }
    return chunk;
  }
}
