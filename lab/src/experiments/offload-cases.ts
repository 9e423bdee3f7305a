/** The measured side of `offload`, run in a fresh child process per case. */
import { Worker } from 'node:worker_threads';
import { percentile } from '../harness/stats.js';
import type { Metrics } from '../harness/types.js';
import { BATCH, MemTable, REQUEST, RESPONSE, RESULT, STOP } from './offload-table.js';

export type OffloadVariant = 'direct' | 'threadpool' | 'worker';
export interface OffloadArgs {
  variant: OffloadVariant;
  calls: number;
  /** Threads in the threadpool variant (libuv's default pool has 4). */
  poolSize: number;
}

const workerModule = new URL('./offload-worker.js', import.meta.url);

type Insert = (batch: number) => Promise<number> | number;

interface Offloader {
  insert: Insert;
  close(): Promise<void>;
}

function threadpool(size: number): Offloader {
  const workers = Array.from(
    { length: size },
    () => new Worker(workerModule, { workerData: { mode: 'message' } }),
  );
  const pending = new Map<number, (size: number) => void>();
  for (const worker of workers) {
    worker.on('message', (message: { id: number; size: number }) => {
      const resolve = pending.get(message.id)!;
      pending.delete(message.id);
      resolve(message.size);
    });
  }
  let nextId = 0;
  return {
    insert: (batch) =>
      new Promise<number>((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        workers[id % size]!.postMessage({ id, batch });
      }),
    close: async () => {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

function dedicatedWorker(): Offloader {
  const shared = new SharedArrayBuffer(16);
  const slots = new Int32Array(shared);
  const worker = new Worker(workerModule, { workerData: { mode: 'atomics', shared } });
  let request = 0;
  const send = (batch: number): number => {
    Atomics.store(slots, BATCH, batch);
    request++;
    Atomics.store(slots, REQUEST, request);
    Atomics.notify(slots, REQUEST);
    return request;
  };
  return {
    insert: async (batch) => {
      const id = send(batch);
      while (Atomics.load(slots, RESPONSE) !== id) {
        const seen = Atomics.load(slots, RESPONSE);
        if (seen === id) break;
        if (waitAsync === undefined) {
          await new Promise((resolve) => setImmediate(resolve));
        } else {
          const result = waitAsync(slots, RESPONSE, seen);
          if (result.async) await result.value;
        }
      }
      return Atomics.load(slots, RESULT);
    },
    close: async () => {
      send(STOP);
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}

/** `calls` sequential calls of the 100-key insert, each timed from call to result. */
export async function offloadCase(args: OffloadArgs): Promise<Metrics> {
  let offloader: Offloader;
  if (args.variant === 'direct') {
    const table = new MemTable();
    offloader = { insert: (batch) => table.insertBatch(batch), close: async () => {} };
  } else if (args.variant === 'threadpool') {
    offloader = threadpool(args.poolSize);
  } else {
    offloader = dedicatedWorker();
  }
  // warm-up: let the JIT and the threads settle before measuring
  for (let batch = 0; batch < Math.min(1000, args.calls); batch++) await offloader.insert(batch);
  const samples: number[] = [];
  let checksum = 0;
  for (let call = 0; call < args.calls; call++) {
    const start = performance.now();
    checksum += await offloader.insert(call + 1000);
    samples.push((performance.now() - start) * 1000);
  }
  await offloader.close();
  const meanUs = samples.reduce((sum, sample) => sum + sample, 0) / samples.length;
  return { p50Us: percentile(samples, 50), meanUs, checksum: checksum > 0 ? 1 : 0 };
}
