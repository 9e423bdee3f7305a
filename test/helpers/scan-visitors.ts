/**
 * Visitor modules for `scanTree`'s worker threads (`ScanWorkerVisitor`), used by scan.test.ts:
 * each export is one behaviour a test asks for.
 */
import { createHash } from 'node:crypto';
import type { WorkerScanFile } from '../../src/file/index.js';

/** The file's SHA-1 through `windows()`, how it came (whole or in windows), and its stats' size. */
export function digest(file: WorkerScanFile): { sha1: string; whole: boolean; statSize: number } {
  const hash = createHash('sha1');
  for (const window of file.windows()) hash.update(window);
  return { sha1: hash.digest('hex'), whole: file.contents !== undefined, statSize: file.stats.size };
}

/** The same, awaited: a visit may return a promise. */
export async function digestLater(file: WorkerScanFile): Promise<string> {
  const { sha1 } = digest(file);
  await new Promise((resolve) => setTimeout(resolve, 1));
  return sha1;
}

/** Returns nothing: no message per file. */
export function nothing(): undefined {
  return undefined;
}

/** Throws a coded error at the file named in `data`. */
export function throwAt(file: WorkerScanFile, name: string): void {
  if (file.relativePath.endsWith(name))
    throw Object.assign(new RangeError(`boom at ${name}`), { code: 'E_BOOM' });
}

/** Returns what structured clone cannot copy. */
export function unclonable(): unknown {
  return () => 1;
}

export const notAFunction = 42;

/** Kills its thread: an exception nobody catches, thrown while the visit is pending. */
export function crash(): Promise<never> {
  setTimeout(() => {
    throw new Error('the worker thread dies');
  }, 0);
  return new Promise(() => {});
}
