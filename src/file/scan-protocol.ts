/** Messages between `scanTree` and its worker threads (`scan-worker.ts`). */
import type { FileStats } from './types.js';

/** What a worker thread is started with. */
export interface ScanWorkerData {
  /** The slabs small files are read into (for visits on the main thread). */
  slabs: SharedArrayBuffer[];
  /** The scan's root: a path's `relativePath` is what follows it and one separator. */
  root: string;
  /** One Int32: set to 1 when the scan fails or is aborted; threads stop between files. */
  stop: SharedArrayBuffer;
  /** Set when the visits run on the worker threads (`ScanWorkerVisitor`). */
  visitor?: { module: string; export: string; data: unknown };
}

/** Read these files into a slab; the main thread visits them. */
export interface ReadRequest {
  kind: 'read';
  id: number;
  paths: string[];
  /** Files larger than this are deferred to a managed reader on the main thread. */
  maxFileBytes: number;
  /** Index of the shared slab (in the worker's `workerData`) to fill: the files' bytes, one after the other. */
  slab: number;
  /**
   * Bytes the batch may read into buffers of their own (transferred with the reply) when a file
   * does not fit in what is left of the slab; past this, such files are deferred too.
   */
  overflowBytes: number;
}

/**
 * Read and visit these files on the worker thread (with the visitor module of `ScanWorkerData`).
 * The paths travel as one string, separated by NUL (which no path contains): one string to copy
 * per batch instead of 128.
 */
export interface VisitRequest {
  kind: 'visit';
  id: number;
  paths: string;
}

/** The separator of `VisitRequest.paths`. */
export const PATH_SEPARATOR = '\0';

/**
 * One part of one file to read and visit on a thread (`scanFile`): the bytes [from, end), where
 * `from` is `start` less the overlap (at least 0). Answered with a `VisitReply` of one entry.
 */
export interface PartRequest {
  kind: 'part';
  id: number;
  path: string;
  index: number;
  count: number;
  start: number;
  end: number;
  from: number;
}

export type WorkerRequest = ReadRequest | VisitRequest | PartRequest;

/** An OS error, as its code and message (an `Error` loses its `code` crossing threads). */
export interface OsFailure {
  code: string;
  message: string;
}

/** A file that could not be read (or visited): a problem entry of the summary. */
export type FileFailure =
  | { kind: 'not-a-file'; directory: boolean }
  | { kind: 'shrank'; size: number; at: number }
  | ({ kind: 'error' } & OsFailure);

export type FileOutcome =
  /** In the slab at `offset`, or (when it did not fit) the whole of `own`, transferred. */
  | { kind: 'read'; offset: number; size: number; stats: FileStats; own?: ArrayBuffer }
  /** Too large to read whole here: the main thread opens a managed reader. */
  | { kind: 'defer'; size: number }
  | FileFailure;

export type VisitOutcome =
  /** Visited; `result` is what the visitor returned (absent for undefined). */
  { kind: 'visited'; size: number; result?: unknown } | FileFailure;

/**
 * A visit batch's outcomes, packed: `sizes[i]` is the size of file i, visited with nothing returned
 * (nearly every file), or NaN when `notes` has its outcome (a failure, or what the visit returned).
 * `sizes` is as long as the files visited; a batch stopped early (the scan failed) is shorter.
 * A typed array and a short list copy in a few microseconds, where 128 outcome objects took tens.
 */
export interface VisitReply {
  kind: 'visit';
  id: number;
  sizes: Float64Array;
  /** In file order. */
  notes: Array<{ index: number; outcome: VisitOutcome }>;
}

export type WorkerReply =
  | { kind: 'read'; id: number; outcomes: FileOutcome[]; slab: number }
  | VisitReply
  /**
   * The visitor threw (or its module failed to load): the batch stops at `index`. `error` is the
   * thrown value as structured clone carries it; `code` is its `code` property, which it drops.
   */
  | { kind: 'visitor-error'; id: number; index: number; error: unknown; code?: unknown; loading: boolean };
