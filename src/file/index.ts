export { type Plan, SYNC_MAX_BYTES } from './planner.js';
export { type ReadAllOptions, readAll } from './read-all.js';
export { openReader } from './reader.js';
export {
  MAX_SCAN_CONCURRENCY,
  type ScanEntry,
  type ScanFile,
  type ScanFilePart,
  type ScanOptions,
  type ScanProblem,
  type ScanResultFile,
  type ScanSummary,
  type ScanVisitor,
  type ScanWorkerVisitor,
  scanTree,
  type WorkerScanFile,
} from './scan.js';
export { type ScanFileOptions, type ScanFileSummary, scanFile } from './scan-file.js';
export { MAX_READ_WORKERS, terminateIdleReadWorkers } from './sources/worker.js';
export type { FileStats, ManagedReader, OpenReaderOptions, Strategy } from './types.js';
