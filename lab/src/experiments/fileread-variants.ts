/**
 * The `fileread` cases, each run in a child process by `fileread.ts`: read one cached file and
 * either count its bytes (the seed's program) or CRC every byte (`touch`: computation to overlap
 * with reading). Each returns wall time, CPU time of the whole process (all threads) and the
 * event-loop lag observed meanwhile.
 */
import fs from 'node:fs';
import { crc32 } from '@node-rs/crc32';
import { openReader, readAll } from 'sluice/file';

export type Pass = 'count' | 'touch';

export interface CaseArgs {
  variant: string;
  pass: Pass;
  file: string;
}

export interface CaseResult {
  ms: number;
  mbPerS: number;
  userMs: number;
  sysMs: number;
  maxLagMs: number;
  bytes: number;
  crc: number;
}

/** What each variant does with the bytes it gets. */
interface Sink {
  take(bytes: Uint8Array): void;
  bytes: number;
  crc: number;
}

function sinkFor(pass: Pass): Sink {
  if (pass === 'count') {
    return {
      bytes: 0,
      crc: 0,
      take(bytes) {
        this.bytes += bytes.length;
      },
    };
  }
  return {
    bytes: 0,
    crc: 0,
    take(bytes) {
      this.bytes += bytes.length;
      this.crc = crc32(bytes as Buffer, this.crc);
    },
  };
}

function readSyncLoop(file: string, sink: Sink, windowSize: number): void {
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.allocUnsafeSlow(windowSize);
  try {
    for (let bytes = fs.readSync(fd, buffer, 0, windowSize, null); bytes > 0; ) {
      sink.take(buffer.subarray(0, bytes));
      bytes = fs.readSync(fd, buffer, 0, windowSize, null);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function fsReadLoop(file: string, sink: Sink, windowSize: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = fs.openSync(file, 'r');
    const buffer = Buffer.allocUnsafeSlow(windowSize);
    const step = (): void => {
      fs.read(fd, buffer, 0, windowSize, null, (error, bytes) => {
        if (error) {
          fs.closeSync(fd);
          reject(error);
        } else if (bytes === 0) {
          fs.closeSync(fd);
          resolve();
        } else {
          sink.take(buffer.subarray(0, bytes));
          step();
        }
      });
    };
    step();
  });
}

async function fileHandleLoop(file: string, sink: Sink, windowSize: number): Promise<void> {
  const handle = await fs.promises.open(file, 'r');
  const buffer = Buffer.allocUnsafeSlow(windowSize);
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, windowSize, null);
      if (bytesRead === 0) return;
      sink.take(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}

async function streamLoop(file: string, sink: Sink): Promise<void> {
  for await (const chunk of fs.createReadStream(file)) sink.take(chunk as Buffer);
}

async function sluiceLoop(
  file: string,
  sink: Sink,
  strategy: 'auto' | 'threadpool' | 'worker',
): Promise<void> {
  const reader = await openReader(file, { strategy });
  for await (const window of reader) sink.take(window);
}

export const VARIANTS: Record<string, (file: string, sink: Sink) => void | Promise<void>> = {
  'readSync-64k': (file, sink) => readSyncLoop(file, sink, 64 * 1024),
  'readSync-16k': (file, sink) => readSyncLoop(file, sink, 16 * 1024),
  'fs.read-64k': (file, sink) => fsReadLoop(file, sink, 64 * 1024),
  'filehandle-16k': (file, sink) => fileHandleLoop(file, sink, 16 * 1024),
  'filehandle-64k': (file, sink) => fileHandleLoop(file, sink, 64 * 1024),
  createReadStream: streamLoop,
  readFile: async (file, sink) => sink.take(await fs.promises.readFile(file)),
  readFileSync: (file, sink) => sink.take(fs.readFileSync(file)),
  sluice: (file, sink) => sluiceLoop(file, sink, 'auto'),
  'sluice-threadpool': (file, sink) => sluiceLoop(file, sink, 'threadpool'),
  'sluice-worker': (file, sink) => sluiceLoop(file, sink, 'worker'),
  'sluice-readAll': async (file, sink) => sink.take(await readAll(file)),
  // the parent runs it with SLUICE_NATIVE=0: readAll without the native addon
  'sluice-readAll-js': async (file, sink) => sink.take(await readAll(file)),
};

/**
 * Measures the longest time the event loop could not run a 1 ms timer: the probe notes each tick;
 * a gap of G ms between ticks means the loop was blocked for about G - 1 ms.
 */
function startLagProbe(): () => Promise<number> {
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  return async () => {
    // let the probe see the gap that ends now (a sync variant blocks until here)
    await new Promise((resolve) => setTimeout(resolve, 2));
    clearInterval(timer);
    return Math.max(0, maxGap - 1);
  };
}

export async function runCase(args: CaseArgs): Promise<CaseResult> {
  const variant = VARIANTS[args.variant];
  if (variant === undefined) throw new Error(`unknown fileread variant ${args.variant}`);
  const sink = sinkFor(args.pass);
  // settle the probe first so its own start-up is not counted as lag
  await new Promise((resolve) => setTimeout(resolve, 5));
  const stopProbe = startLagProbe();
  await new Promise((resolve) => setTimeout(resolve, 3));
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await variant(args.file, sink);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const maxLagMs = await stopProbe();
  return {
    ms,
    mbPerS: sink.bytes / 1e6 / (ms / 1000),
    userMs: cpu.user / 1000,
    sysMs: cpu.system / 1000,
    maxLagMs,
    bytes: sink.bytes,
    crc: sink.crc,
  };
}
