/**
 * The deferred CRCs one stream needs, computed ahead of it in the order it needs them: a local
 * header needs its file's CRC before the file's data, so while file i streams, the CRCs of files
 * i+1, i+2, ... are computed on the CRC threads, and the stream waits only when it overtakes them.
 *
 * Bounds: at most `parallel` computations of this stream run at once; beyond the first, one starts
 * only for a header at most AHEAD_BYTES of archive ahead of the stream's position (so a slow client
 * does not have the server checksum a whole book ahead of it). A header that is due is computed at
 * once. `close()` gives up on everything not finished: computations no other stream waits for are
 * cancelled, and it resolves once their files are closed.
 */
import { AbortError } from '../errors.js';
import type { DeferredCrc } from './deferred-crc.js';
import type { ResolvedEntry } from './entries.js';
import { type Layout, PIECE_CENTRAL, PIECE_LOCAL } from './layout.js';

/**
 * How far ahead of the stream a CRC computation may start (archive bytes from the stream's
 * position to the header needing it): two 25 MiB files of the seed's audiobook beyond the one
 * streaming, so two CRC threads (a 3-core machine's default for deferred CRCs) stay busy.
 */
export const AHEAD_BYTES = 64 * 1024 * 1024;

export class CrcAhead {
  readonly #layout: Layout;
  readonly #entries: readonly ResolvedEntry[];
  /** Last byte of the range (inclusive): no header past it is needed. */
  readonly #end: number;
  readonly #parallel: number;
  /** Aborted by `close()` or the stream's signal: every `get()` of this stream gives up. */
  readonly #stop = new AbortController();
  readonly #onAbort: () => void;
  readonly #signal: AbortSignal | undefined;
  /** The next piece to look at for a header whose CRC is unknown. */
  #cursor: number;
  /** Computations of this stream by entry index; each settles (never rejects) with the outcome. */
  readonly #started = new Map<number, Promise<number | Error>>();
  #running = 0;
  #position: number;

  constructor(
    layout: Layout,
    entries: readonly ResolvedEntry[],
    range: { start: number; end: number },
    parallel: number,
    signal: AbortSignal | undefined,
  ) {
    this.#layout = layout;
    this.#entries = entries;
    this.#end = range.end;
    this.#parallel = Math.max(1, parallel);
    this.#cursor = layout.findPiece(range.start);
    this.#position = range.start;
    this.#signal = signal;
    this.#onAbort = () => this.#stop.abort(signal?.reason);
    if (signal?.aborted) this.#stop.abort(signal.reason);
    else signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** The stream reached `position`: start what the bounds now allow. */
  advance(position: number): void {
    this.#position = position;
    while (this.#running < this.#parallel) {
      const piece = this.#nextNeed();
      if (piece === -1) return;
      const distance = this.#layout.pieceStart[piece]! - this.#position;
      if (this.#running > 0 && distance > AHEAD_BYTES) return;
      this.#start(this.#layout.pieceEntry[piece]!);
      this.#cursor = piece + 1;
    }
  }

  /** The CRC of entry `index`, whose header is due now: computed already, running, or started now. */
  async crcOf(index: number): Promise<number> {
    const deferred = this.#entries[index]!.deferred!;
    if (deferred.value !== undefined) return deferred.value;
    const outcome = await (this.#started.get(index) ?? this.#start(index));
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }

  /** Gives up on every computation not finished; resolves once those only this stream wanted stopped. */
  async close(): Promise<void> {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#stop.abort(new AbortError('the stream ended'));
    await Promise.all(this.#started.values());
  }

  /** The next header piece (from the cursor, within the range) whose entry's CRC is deferred and unknown. */
  #nextNeed(): number {
    const layout = this.#layout;
    for (let piece = this.#cursor; piece < layout.pieceCount; piece++) {
      if (layout.pieceStart[piece]! > this.#end) break;
      const kind = layout.pieceKind[piece];
      if (kind !== PIECE_LOCAL && kind !== PIECE_CENTRAL) continue;
      const index = layout.pieceEntry[piece]!;
      const deferred = this.#entries[index]!.deferred;
      if (deferred === undefined || deferred.value !== undefined || this.#started.has(index)) continue;
      this.#cursor = piece;
      return piece;
    }
    this.#cursor = layout.pieceCount;
    return -1;
  }

  #start(index: number): Promise<number | Error> {
    const deferred: DeferredCrc = this.#entries[index]!.deferred!;
    this.#running++;
    const outcome = deferred.get(this.#stop.signal).then(
      (crc) => crc,
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );
    const settled = outcome.then((result) => {
      this.#running--;
      if (typeof result === 'number') this.#started.delete(index); // known now: `deferred.value`
      if (!this.#stop.signal.aborted) this.advance(this.#position);
      return result;
    });
    this.#started.set(index, settled);
    return settled;
  }
}
