/**
 * A `scanTree` worker thread: reads batches of small files synchronously (open, fstat, read, close)
 * into a shared slab it is lent, and gives the slab back with one message per batch (a message
 * carries paths and outcomes only; transferring a 2 MiB ArrayBuffer each way cost ~100 us). Seed 003: "querying
 * N files necessarily results in O(N) syscalls" but need not cost O(N) thread hand-offs; one
 * message carries up to `SCAN_BATCH_FILES` files.
 *
 * Invariants: one file open at a time, closed before the next is opened (even on errors); the slab
 * is only written before it is transferred back; a file is read only if it fits in what is left.
 */
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { BatchOutcome, BatchRequest, FileOutcome } from './scan-protocol.js';

function readOne(path: string, slab: Uint8Array, offset: number, maxBytes: number): FileOutcome {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    return { kind: 'error', code: code ?? 'EIO', message };
  }
  try {
    const stats = fs.fstatSync(fd);
    if (!stats.isFile()) return { kind: 'not-a-file', directory: stats.isDirectory() };
    const size = stats.size;
    // Too large for the slab's room (or for one window): the main thread opens a managed reader.
    if (size > maxBytes || size > slab.length - offset) return { kind: 'defer', size };
    let filled = 0;
    while (filled < size) {
      const bytes = fs.readSync(fd, slab, offset + filled, size - filled, filled);
      if (bytes === 0) break;
      filled += bytes;
    }
    // Bytes appended after the fstat are not read: the file is taken at its size when opened.
    if (filled < size) return { kind: 'shrank', size, at: filled };
    return {
      kind: 'read',
      offset,
      size,
      stats: { size, mtimeMs: stats.mtimeMs, dev: stats.dev, ino: stats.ino, mode: stats.mode },
    };
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    return { kind: 'error', code: code ?? 'EIO', message };
  } finally {
    fs.closeSync(fd);
  }
}

/** The slabs, shared with the main thread: a slab is written only while the main thread lends it. */
const slabs = (workerData as { slabs: SharedArrayBuffer[] }).slabs.map((slab) => new Uint8Array(slab));

parentPort!.on('message', (request: BatchRequest) => {
  const slab = slabs[request.slab]!;
  const outcomes: FileOutcome[] = [];
  let offset = 0;
  for (const path of request.paths) {
    const outcome = readOne(path, slab, offset, request.maxFileBytes);
    if (outcome.kind === 'read') offset += outcome.size;
    outcomes.push(outcome);
  }
  const reply: BatchOutcome = { id: request.id, outcomes, slab: request.slab };
  parentPort!.postMessage(reply);
});
