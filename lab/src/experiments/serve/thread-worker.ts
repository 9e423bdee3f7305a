/**
 * The `thread-per-client` variant's reader (the seed's "sync in channel"): one worker thread per
 * request reads the file with readSync in 64 KiB chunks and sends each to the main thread, which
 * writes it to the socket. The channel is bounded: `credits` (a SharedArrayBuffer Int32) counts the
 * chunks the worker may still send; the main thread gives one back per flushed write, and the
 * worker blocks in Atomics.wait at zero (backpressure, as the seed's bounded channel).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const {
  file,
  start,
  end,
  credits: sharedCredits,
  chunkSize,
} = workerData as {
  file: string;
  start: number;
  end: number;
  credits: SharedArrayBuffer;
  chunkSize: number;
};
const credits = new Int32Array(sharedCredits);
const fd = openSync(file, 'r');
try {
  for (let position = start; position <= end; ) {
    // slot 1 is the stop flag, set by the main thread when the client went away
    if (Atomics.load(credits, 1) !== 0) break;
    while (Atomics.load(credits, 0) <= 0) {
      Atomics.wait(credits, 0, Atomics.load(credits, 0), 1000);
      if (Atomics.load(credits, 1) !== 0) break;
    }
    if (Atomics.load(credits, 1) !== 0) break;
    Atomics.sub(credits, 0, 1);
    const chunk = Buffer.allocUnsafeSlow(Math.min(chunkSize, end - position + 1));
    const bytesRead = readSync(fd, chunk, 0, chunk.length, position);
    if (bytesRead === 0) break;
    position += bytesRead;
    const view = chunk.buffer.slice(0, bytesRead) as ArrayBuffer;
    parentPort!.postMessage(view, [view]);
  }
} finally {
  closeSync(fd);
}
parentPort!.postMessage(null);
