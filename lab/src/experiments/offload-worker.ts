/**
 * Worker side of `offload`. Two hand-offs:
 * - `message` (the threadpool variant): each request is a postMessage, the reply another, as a
 *   generic pool (piscina-style) does it;
 * - `atomics` (the worker variant): a dedicated thread parked in Atomics.wait on a shared slot; the
 *   main thread writes the batch number and notifies, the thread writes the result and notifies back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BATCH, MemTable, REQUEST, RESPONSE, RESULT, STOP } from './offload-table.js';

const table = new MemTable();
const port = parentPort!;
const mode = (workerData as { mode: 'message' | 'atomics'; shared?: SharedArrayBuffer }).mode;

if (mode === 'message') {
  port.on('message', (message: { id: number; batch: number }) => {
    port.postMessage({ id: message.id, size: table.insertBatch(message.batch) });
  });
} else {
  const slots = new Int32Array((workerData as { shared: SharedArrayBuffer }).shared);
  let seen = 0;
  for (;;) {
    Atomics.wait(slots, REQUEST, seen);
    const request = Atomics.load(slots, REQUEST);
    if (request === seen) continue;
    seen = request;
    const batch = Atomics.load(slots, BATCH);
    if (batch === STOP) break;
    Atomics.store(slots, RESULT, table.insertBatch(batch));
    Atomics.store(slots, RESPONSE, request);
    Atomics.notify(slots, RESPONSE);
  }
}
