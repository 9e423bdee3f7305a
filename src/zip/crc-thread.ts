/**
 * A CRC worker thread: computes the CRC-32 of one whole file at a time, reading it synchronously
 * into one small buffer that stays in this core's cache, so the bytes are copied once and checksummed
 * while still hot, and the main thread never sees them. Blocking is the point: this thread has
 * nothing else to do. Protocol in `crc-workers.ts`.
 */
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { CrcJob, CrcReply } from './crc-workers.js';
import { crc32 } from './crc32.js';
import { versionOf } from './file-version.js';

if (parentPort === null) throw new Error('crc-thread.js must run in a worker thread');
const port = parentPort;

/** Small enough to stay in a core's L2 between the copy and the checksum. */
const WINDOW_BYTES = 256 * 1024;
const window = Buffer.allocUnsafeSlow(WINDOW_BYTES);

port.on('message', (job: CrcJob) => {
  port.postMessage(run(job));
});

function run(job: CrcJob): CrcReply {
  const cancel = new Int32Array(job.cancel);
  let fd: number | undefined;
  try {
    fd = fs.openSync(job.path, 'r');
    const before = versionOf(fs.fstatSync(fd, { bigint: true }));
    let crc = 0;
    let bytes = 0;
    for (;;) {
      if (Atomics.load(cancel, 0) !== 0) return { id: job.id, outcome: 'cancelled' };
      const read = fs.readSync(fd, window, 0, WINDOW_BYTES, bytes);
      if (read === 0) break;
      crc = crc32(window.subarray(0, read), crc);
      bytes += read;
    }
    const after = versionOf(fs.fstatSync(fd, { bigint: true }));
    return { id: job.id, outcome: 'done', crc, bytes, before, after };
  } catch (error) {
    const { code, errno, syscall, message } = error as NodeJS.ErrnoException;
    return { id: job.id, outcome: 'failed', error: { code, errno, syscall, message } };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
