/**
 * Request path -> file inside the library root, refusing anything that could leave it.
 *
 * Checked on the raw request target, segment by segment, before touching the file system:
 * backslashes (raw or `%5C`), NUL, encoded slashes, `.` / `..` in any spelling (`%2e%2e`), empty
 * segments (`//etc/passwd`), malformed percent-encoding: 400. Hidden names (a leading dot): 404.
 * Then, on the file system, the real path (symlinks resolved) must stay under the real root: 403.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { UnsafePathError } from '../errors.js';

/** Longest request path we look at (bytes of the raw target); longer is 414-worthy, we answer 400. */
export const MAX_PATH_LENGTH = 4096;

/**
 * The decoded segments of the path of `target` (`/a/b%20c?x` -> ['a', 'b c']). `/` gives [].
 * Throws `UnsafePathError` (with `status`) for anything unsafe or malformed.
 */
export function requestSegments(target: string): string[] {
  if (target.length > MAX_PATH_LENGTH) throw new UnsafePathError(target.slice(0, 80), 'path too long');
  let pathPart = target;
  if (!pathPart.startsWith('/')) {
    // absolute-form (RFC 9112 §3.2.2) from proxies: keep only the path; anything else is malformed
    if (!/^https?:\/\//i.test(pathPart)) throw new UnsafePathError(target, 'not an origin-form path');
    const slash = pathPart.indexOf('/', pathPart.indexOf('//') + 2);
    pathPart = slash === -1 ? '/' : pathPart.slice(slash);
  }
  const query = pathPart.search(/[?#]/);
  if (query !== -1) pathPart = pathPart.slice(0, query);
  if (pathPart.includes('\\')) throw new UnsafePathError(target, 'backslash in path');
  if (pathPart === '/') return [];
  const raw = pathPart.slice(1).split('/');
  // a trailing slash names a directory: keep it meaningful only for the root
  if (raw.length > 1 && raw[raw.length - 1] === '') raw.pop();
  return raw.map((segment) => {
    if (segment === '') throw new UnsafePathError(target, 'empty path segment');
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw new UnsafePathError(target, 'malformed percent-encoding');
    }
    if (decoded.includes('\0')) throw new UnsafePathError(target, 'NUL in path');
    if (decoded.includes('/') || decoded.includes('\\'))
      throw new UnsafePathError(target, 'encoded separator');
    if (decoded === '.' || decoded === '..') throw new UnsafePathError(target, 'dot segment');
    if (decoded.startsWith('.')) throw new UnsafePathError(target, 'hidden name', 404);
    return decoded;
  });
}

/**
 * The real path of `segments` under `root` (which must itself be a real path), or
 * `UnsafePathError` 403 when symlinks lead outside it. ENOENT propagates (the caller answers 404).
 */
export async function resolveInside(realRoot: string, segments: readonly string[]): Promise<string> {
  const joined = path.join(realRoot, ...segments);
  const real = await realpath(joined);
  if (real !== realRoot && !real.startsWith(realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep)) {
    throw new UnsafePathError(`/${segments.join('/')}`, 'leads outside the library root', 403);
  }
  return real;
}
