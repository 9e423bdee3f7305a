/**
 * xorshift32 (Marsaglia 2003): a tiny deterministic generator for data that must be the same on
 * every machine (the sample library's "MP3s"; test fixtures). Not for anything secret.
 */

/** Returns a generator of the states after `state` (which must be a non-zero uint32). */
export function xorshift32(state: number): () => number {
  let current = state >>> 0;
  return () => {
    current ^= current << 13;
    current >>>= 0;
    current ^= current >>> 17;
    current ^= current << 5;
    current >>>= 0;
    return current;
  };
}
