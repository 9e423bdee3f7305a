/**
 * The `sluice` scan variant's visitor on scanTree's worker threads (`ScanWorkerVisitor`): searches
 * each file where it was read, one search state per thread, and returns the file's match count
 * when it is not 0 (nothing crosses back otherwise).
 */
import type { WorkerScanFile } from 'sluice/file';
import { NeedleSearch } from './scan-search.js';

let search: NeedleSearch | undefined;

export function visit(file: WorkerScanFile, needle: string): number | undefined {
  search ??= new NeedleSearch(needle);
  const before = search.matches;
  search.begin();
  // a file read whole (up to 4 MiB: nearly all of a source tree) is searched as is, no generator
  const contents = file.contents;
  if (contents !== undefined) search.feed(contents);
  else for (const window of file.windows()) search.feed(window);
  const found = search.matches - before;
  return found === 0 ? undefined : found;
}
