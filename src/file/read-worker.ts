/**
 * A read worker thread: reads one job at a time synchronously (`readSync`, no threadpool) into a
 * SharedArrayBuffer ring and hands windows to the main thread through `control` (see
 * worker-protocol.ts). Blocking is the point here: this thread has nothing else to do.
 */
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { readFullySync } from './read-fully.js';
import {
  CANCEL,
  CONSUMED,
  DONE,
  type DoneMessage,
  FAILED,
  type JobFailure,
  type JobMessage,
  LENGTH,
  PRODUCED,
  STATE,
} from './worker-protocol.js';

if (parentPort === null) throw new Error('read-worker.js must run in a worker thread');
const port = parentPort;

port.on('message', (job: JobMessage) => {
  const control = new Int32Array(job.control);
  let failure: JobFailure | undefined;
  try {
    failure = runJob(job, control);
  } catch (error) {
    const { code, errno, syscall, message } = error as NodeJS.ErrnoException;
    failure = { kind: 'os', code, message, errno, syscall };
  }
  Atomics.store(control, STATE, failure === undefined ? DONE : FAILED);
  Atomics.notify(control, PRODUCED);
  const done: DoneMessage =
    failure === undefined ? { type: 'done', id: job.id } : { type: 'done', id: job.id, failure };
  port.postMessage(done);
});

function runJob(job: JobMessage, control: Int32Array): JobFailure | undefined {
  const ring = new Uint8Array(job.ring);
  let produced = 0;
  let position = job.start;
  while (position < job.endExclusive) {
    // Wait for a free slot: at most `slots` windows ahead of the consumer.
    for (;;) {
      if (Atomics.load(control, CANCEL) !== 0) return undefined;
      const consumed = Atomics.load(control, CONSUMED);
      if (produced - consumed < job.slots) break;
      Atomics.wait(control, CONSUMED, consumed);
    }
    const slot = produced % job.slots;
    const base = slot * job.windowSize;
    const length = Math.min(job.windowSize, job.endExclusive - position);
    const filled = readFullySync(job.fd, ring, base, length, position);
    if (filled < length) return { kind: 'shrank', offset: position + filled };
    Atomics.store(control, LENGTH + slot, length);
    produced++;
    position += length;
    Atomics.store(control, PRODUCED, produced);
    Atomics.notify(control, PRODUCED);
  }
  if (job.checkGrowth && Atomics.load(control, CANCEL) === 0) {
    const probe = Buffer.allocUnsafe(1);
    if (fs.readSync(job.fd, probe, 0, 1, job.endExclusive) > 0) return { kind: 'grew' };
  }
  return undefined;
}
