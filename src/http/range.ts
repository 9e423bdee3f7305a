/**
 * `Range: bytes=...` (RFC 9110 §14.1.2, §14.2), parsed against a representation of known size.
 *
 * Policy, kept small and predictable:
 * - a syntactically invalid header, another unit, more than `MAX_RANGES` ranges or a header longer
 *   than `MAX_HEADER_LENGTH` is ignored (the full 200 response), as §14.2 allows ("a server MAY
 *   ignore the Range header field");
 * - no satisfiable range: 416 with `Content-Range: bytes * /size` (§15.5.17);
 * - several ranges are sorted and coalesced (overlapping or adjacent); if one range remains it is
 *   served as a single 206, otherwise the whole representation is sent as 200. This spares clients
 *   a multipart/byteranges body they rarely want and keeps one stream per response; §14.2 allows it.
 * - a zero-length representation ignores `Range` (200, empty body): no byte range exists in it.
 */

/** More ranges than this in one header is hostile (RFC 9110 §14.2 warns about many small ranges). */
export const MAX_RANGES = 64;
/** A longer `Range` header value is ignored unread. */
export const MAX_HEADER_LENGTH = 2048;

export interface ByteRange {
  start: number;
  /** Inclusive, as in HTTP. */
  end: number;
}

export type RangeResult =
  /** Send the whole representation (no Range header, or one we ignore). */
  | { kind: 'full'; reason: 'absent' | 'malformed' | 'multiple' | 'empty' }
  | { kind: 'partial'; range: ByteRange }
  | { kind: 'unsatisfiable' };

const DIGITS = /^[0-9]+$/;

/** Parses `header` for a representation of `size` bytes (see the module comment for the policy). */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full', reason: 'absent' };
  if (header.length > MAX_HEADER_LENGTH) return { kind: 'full', reason: 'malformed' };
  const equals = header.indexOf('=');
  if (equals === -1 || header.slice(0, equals).trim().toLowerCase() !== 'bytes') {
    return { kind: 'full', reason: 'malformed' };
  }
  const specs = header.slice(equals + 1).split(',');
  if (specs.length > MAX_RANGES) return { kind: 'full', reason: 'malformed' };
  const satisfiable: ByteRange[] = [];
  let count = 0;
  for (const raw of specs) {
    const spec = raw.trim();
    // RFC 9110 §5.6.1: empty list elements are allowed and not counted
    if (spec === '') continue;
    count++;
    const dash = spec.indexOf('-');
    if (dash === -1) return { kind: 'full', reason: 'malformed' };
    const first = spec.slice(0, dash);
    const last = spec.slice(dash + 1);
    if (first === '') {
      // suffix-range: the last N bytes
      if (!DIGITS.test(last)) return { kind: 'full', reason: 'malformed' };
      const suffix = Number(last);
      if (suffix > 0 && size > 0) satisfiable.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    if (!DIGITS.test(first) || (last !== '' && !DIGITS.test(last))) {
      return { kind: 'full', reason: 'malformed' };
    }
    const start = Number(first);
    const end = last === '' ? Number.POSITIVE_INFINITY : Number(last);
    if (end < start) return { kind: 'full', reason: 'malformed' };
    if (start < size) satisfiable.push({ start, end: Math.min(end, size - 1) });
  }
  if (count === 0) return { kind: 'full', reason: 'malformed' };
  if (size === 0) return { kind: 'full', reason: 'empty' };
  if (satisfiable.length === 0) return { kind: 'unsatisfiable' };
  const merged = coalesce(satisfiable);
  if (merged.length === 1) return { kind: 'partial', range: merged[0]! };
  return { kind: 'full', reason: 'multiple' };
}

/** Sorts ranges and merges those that overlap or touch. */
export function coalesce(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const range of sorted) {
    const previous = merged[merged.length - 1];
    if (previous !== undefined && range.start <= previous.end + 1) {
      previous.end = Math.max(previous.end, range.end);
    } else {
      merged.push({ ...range });
    }
  }
  return merged;
}

/** `Content-Range` for a 206 (`bytes 0-99/1000`) or a 416 (`bytes * /1000`, without the space). */
export function contentRange(range: ByteRange | undefined, size: number): string {
  return range === undefined ? `bytes */${size}` : `bytes ${range.start}-${range.end}/${size}`;
}
