/**
 * A `scanTree` worker thread: reads batches of small files synchronously (open, fstat, read, close)
 * into a shared slab it is lent, and gives the slab back with one message per batch (a message
 * carries paths and outcomes only; transferring a 2 MiB ArrayBuffer each way cost ~100 us). Seed 003: "querying
 * N files necessarily results in O(N) syscalls" but need not cost O(N) thread hand-offs; one
 * message carries up to `SCAN_BATCH_FILES` files.
 *
 * Invariants: one file open at a time, closed before the next is opened (even on errors); the slab
 * is only written before the reply is sent; a file is read whole only if it is at most
 * `maxFileBytes` and fits in what is left of the slab or of the batch's overflow budget (a buffer of
 * its own, transferred with the reply), so a batch holds at most one slab plus that budget.
 */
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { BatchOutcome, BatchRequest, FileOutcome } from './scan-protocol.js';

/** Where a file's bytes may go: the slab's free room, else a buffer of its own within a budget. */
interface Room {
  slab: Uint8Array;
  /** First free byte of the slab. */
  offset: number;
  /** Bytes still allowed in buffers of their own. */
  overflow: number;
}

function readOne(path: string, room: Room, maxBytes: number): FileOutcome {
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
    const inSlab = size <= room.slab.length - room.offset;
    // Too large to read whole, or no room left: the main thread opens a managed reader.
    if (size > maxBytes || (!inSlab && size > room.overflow)) return { kind: 'defer', size };
    // Not zero-filled: every byte is read over below, or the outcome is `shrank` and it is dropped.
    const own = inSlab ? undefined : Buffer.allocUnsafeSlow(size);
    const target = own ?? room.slab;
    const base = own === undefined ? room.offset : 0;
    let filled = 0;
    while (filled < size) {
      const bytes = fs.readSync(fd, target, base + filled, size - filled, filled);
      if (bytes === 0) break;
      filled += bytes;
    }
    // Bytes appended after the fstat are not read: the file is taken at its size when opened.
    if (filled < size) return { kind: 'shrank', size, at: filled };
    if (own === undefined) room.offset += size;
    else room.overflow -= size;
    return {
      kind: 'read',
      offset: base,
      size,
      stats: { size, mtimeMs: stats.mtimeMs, dev: stats.dev, ino: stats.ino, mode: stats.mode },
      // allocUnsafeSlow: an ArrayBuffer of its own (not the shared pool's), so it can be transferred
      ...(own === undefined ? {} : { own: own.buffer as ArrayBuffer }),
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
  const room: Room = { slab: slabs[request.slab]!, offset: 0, overflow: request.overflowBytes };
  const outcomes: FileOutcome[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const path of request.paths) {
    const outcome = readOne(path, room, request.maxFileBytes);
    if (outcome.kind === 'read' && outcome.own !== undefined) transfer.push(outcome.own);
    outcomes.push(outcome);
  }
  const reply: BatchOutcome = { id: request.id, outcomes, slab: request.slab };
  parentPort!.postMessage(reply, transfer);
});
