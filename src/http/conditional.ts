/**
 * Conditional requests (RFC 9110 §13): `If-Match`, `If-None-Match`, `If-Modified-Since`,
 * `If-Unmodified-Since`, evaluated in the order of §13.2.2, and `If-Range` (§13.1.5).
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface Validators {
  /** A strong entity tag, quoted: `"5f3a-1c"`. */
  etag: string;
  /** Last modification, whole seconds matter (HTTP dates have second precision). */
  lastModified?: Date | undefined;
}

export type PreconditionOutcome = 'proceed' | 'not-modified' | 'failed';

/** RFC 9110 §13.2.2: the order in which preconditions are evaluated. */
export function evaluatePreconditions(
  method: string,
  headers: IncomingHttpHeaders,
  validators: Validators,
): PreconditionOutcome {
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    if (!matchesAny(ifMatch, validators.etag, 'strong')) return 'failed';
  } else {
    const since = parseHttpDate(headers['if-unmodified-since']);
    if (since !== undefined && validators.lastModified !== undefined) {
      if (seconds(validators.lastModified) > seconds(since)) return 'failed';
    }
  }
  const safe = method === 'GET' || method === 'HEAD';
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (matchesAny(ifNoneMatch, validators.etag, 'weak')) return safe ? 'not-modified' : 'failed';
  } else if (safe) {
    const since = parseHttpDate(headers['if-modified-since']);
    if (since !== undefined && validators.lastModified !== undefined) {
      if (seconds(validators.lastModified) <= seconds(since)) return 'not-modified';
    }
  }
  return 'proceed';
}

/**
 * §13.1.5: whether a `Range` may be honoured. An entity tag must match strongly; a date must equal
 * `Last-Modified` exactly. Absent `If-Range`: true.
 */
export function ifRangeAllows(headers: IncomingHttpHeaders, validators: Validators): boolean {
  const ifRange = headers['if-range'];
  if (ifRange === undefined) return true;
  if (typeof ifRange !== 'string') return false;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) {
    return !value.startsWith('W/') && value === validators.etag;
  }
  const date = parseHttpDate(value);
  return (
    date !== undefined &&
    validators.lastModified !== undefined &&
    seconds(date) === seconds(validators.lastModified)
  );
}

/** Whether a list of entity tags (or `*`) matches `etag`, with strong or weak comparison (§8.8.3.2). */
export function matchesAny(list: string, etag: string, comparison: 'strong' | 'weak'): boolean {
  const trimmed = list.trim();
  if (trimmed === '*') return true;
  const target = opaque(etag);
  for (const candidate of splitEntityTags(trimmed)) {
    const weak = candidate.startsWith('W/');
    if (weak && comparison === 'strong') continue;
    if (opaque(candidate) === target) return true;
  }
  return false;
}

function splitEntityTags(list: string): string[] {
  const tags: string[] = [];
  const pattern = /\s*((?:W\/)?"[^"]*")\s*(?:,|$)/gy;
  for (let match = pattern.exec(list); match !== null; match = pattern.exec(list)) {
    tags.push(match[1]!);
    if (pattern.lastIndex >= list.length) break;
  }
  return tags;
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** IMF-fixdate and the obsolete forms `Date.parse` accepts; `undefined` when invalid. */
export function parseHttpDate(value: string | undefined): Date | undefined {
  if (value === undefined || value.length > 64) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time);
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}
