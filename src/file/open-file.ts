import type { Stats } from 'node:fs';
import { AbortError, NotAFileError } from '../errors.js';
import { close, fstat, open } from './fs-async.js';
import { fromOsError, kindOf } from './os-errors.js';

/** Opens `path` read-only; a failure is thrown as a coded sluice/file error (`fromOsError`). */
export async function openReadOnly(path: string): Promise<number> {
  try {
    return await open(path, 'r');
  } catch (error) {
    throw fromOsError(path, error);
  }
}

/**
 * Opens `path` read-only and checks it is a regular file. On any failure (missing, permission, a
 * directory, aborted meanwhile) the fd is closed again and a coded error thrown: the caller owns
 * the fd only when this resolves.
 */
export async function openRegularFile(
  path: string,
  signal: AbortSignal | undefined,
): Promise<{ fd: number; stats: Stats }> {
  if (signal?.aborted) throw new AbortError(`opening ${path}`, signal.reason);
  const fd = await openReadOnly(path);
  try {
    const stats = await fstat(fd).catch((error: unknown) => {
      throw fromOsError(path, error);
    });
    if (!stats.isFile()) throw new NotAFileError(path, kindOf(stats));
    if (signal?.aborted) throw new AbortError(`opening ${path}`, signal.reason);
    return { fd, stats };
  } catch (error) {
    await close(fd).catch(() => {});
    throw error;
  }
}
