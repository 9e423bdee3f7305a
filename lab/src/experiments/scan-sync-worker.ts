/** A worker thread of the `sync` scan variant with N > 1 readers: searches its share synchronously. */
import { parentPort, workerData } from 'node:worker_threads';
import { NeedleSearch } from './scan-search.js';
import { type RangeJob, searchFileSync, searchRangeSync } from './scan-sync.js';

type Job = { kind: 'files'; files: string[]; needle: string } | { kind: 'range'; job: RangeJob };

const job = workerData as Job;
if (job.kind === 'range') {
  parentPort!.postMessage(searchRangeSync(job.job));
} else {
  const search = new NeedleSearch(job.needle);
  const buffer = Buffer.allocUnsafeSlow(64 * 1024);
  let bytes = 0;
  for (const file of job.files) bytes += searchFileSync(file, buffer, search);
  parentPort!.postMessage({ files: job.files.length, bytes, matches: search.matches });
}
