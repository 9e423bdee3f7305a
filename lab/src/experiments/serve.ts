/**
 * `serve` (seed 000): N concurrent clients download one file from a server in another process;
 * the seed's ladder of 10..5000 clients, a 2 MiB file and a large one (636 MiB), fast clients and
 * rate-limited slow ones, some aborting midway. Server figures come from /proc (VmHWM, VmRSS,
 * utime+stime of all threads, /proc/PID/fd); client figures from the load generator's process.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { dataDir, ensureFile, warmPageCache, warmTree } from '../harness/data.js';
import { type Case, measureInterleaved, selected } from '../harness/measure.js';
import { runInChild } from '../harness/process.js';
import type { Experiment, ExperimentResult, Metrics, RunContext } from '../harness/types.js';
import type { LoadArgs } from './serve/loadgen.js';
import { sampleProcesses } from './serve/procfs.js';
import { nginxInstalled, type RunningServer, startNginx, startNodeServer } from './serve/servers.js';
import { runWrk, wrkInstalled } from './serve/wrk.js';

const VARIANTS = ['thread-per-client', 'stream-pipe', 'sluice', 'nginx'] as const;
type Variant = (typeof VARIANTS)[number];
const MiB = 1024 * 1024;
/** The seed's CentOS image: 666894336 bytes. */
const LARGE_SIZE = 666_894_336;
/** 1 MiB/s per slow client: a 2 MiB download takes at least 2 s, so slow clients overlap. */
const SLOW_RATE = MiB;
/**
 * thread-per-client starts one Node worker thread (a whole V8 isolate) per concurrent client. Its
 * rungs run when the projected peak (its measured memory per concurrent client times the clients,
 * plus its start RSS) fits in this share of the machine's available memory; above, the row is
 * skipped and says what was measured and projected.
 */
const THREADS_MEMORY_SHARE = 0.5;
/** Slow clients of the calibration: they overlap for 2 s, so all are served at once. */
const CALIBRATION_CLIENTS = 32;
/** The 50-connection keep-alive rung (wrk): seconds of load. */
const KEEPALIVE_SECONDS = 5;

interface Workload {
  file: string;
  name: string;
  size: number;
  clients: number;
  kind: 'fast' | 'slow' | 'abort' | 'keepalive';
}

/** The book of the ZIP rows: 8 chapters of 256 KiB (a 2 MiB archive, like the small file). */
const BOOK = { dir: 'serve-book', chapters: 8, chapterSize: 256 * 1024 };
const ZIP_FILE = 'book.zip';

function ensureBook(): void {
  mkdirSync(path.join(dataDir(), BOOK.dir), { recursive: true });
  for (let i = 1; i <= BOOK.chapters; i++) {
    ensureFile(`${BOOK.dir}/${String(i).padStart(2, '0')} Chapter.mp3`, BOOK.chapterSize, 1000 + i);
  }
}

function workloads(context: RunContext): Workload[] {
  const small = { file: '2MiB', name: 'serve-2MiB.bin', size: 2 * MiB };
  const largeSize = context.quick ? 32 * MiB : LARGE_SIZE;
  const large = {
    file: context.quick ? '32MiB' : '636MiB',
    // the same name and size as the fileread experiment's file: one 636 MiB copy on the machine
    name: context.quick ? 'serve-32MiB.bin' : `fileread-${LARGE_SIZE}.bin`,
    size: largeSize,
  };
  const book = { file: ZIP_FILE, name: `${BOOK.dir}.zip`, size: BOOK.chapters * BOOK.chapterSize };
  const list: Workload[] = [];
  if (context.quick) {
    list.push({ ...small, clients: 50, kind: 'fast' });
    list.push({ ...small, clients: 50, kind: 'keepalive' });
    list.push({ ...small, clients: 50, kind: 'slow' });
    list.push({ ...small, clients: 50, kind: 'abort' });
    list.push({ ...large, clients: 4, kind: 'fast' });
    list.push({ ...book, clients: 50, kind: 'slow' });
    return list;
  }
  const ladder = [10, 20, 100, 250, 1000, 5000];
  for (const clients of ladder) list.push({ ...small, clients, kind: 'fast' });
  // the throughput comparison: 50 keep-alive connections for 5 s (wrk)
  list.push({ ...small, clients: 50, kind: 'keepalive' });
  for (const clients of context.full ? ladder : [1000, 5000]) list.push({ ...small, clients, kind: 'slow' });
  list.push({ ...small, clients: 1000, kind: 'abort' });
  for (const clients of context.full ? ladder : [10, 20]) list.push({ ...large, clients, kind: 'fast' });
  for (const clients of context.full ? ladder : [1000, 5000]) list.push({ ...book, clients, kind: 'slow' });
  return list;
}

async function startServer(variant: Variant, root: string): Promise<RunningServer> {
  return variant === 'nginx' ? startNginx(root) : startNodeServer(variant, root);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads sluice's own /metrics after the load: windows in use and files open must be 0. */
async function sluiceGauges(port: number): Promise<Metrics> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const gauge = (name: string): number =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    windowsInUseAfter: gauge('sluice_buffer_in_use_bytes') / gauge('sluice_buffer_budget_bytes'),
    openFilesAfter: gauge('sluice_open_files'),
    bufferPeakMb: gauge('sluice_buffer_peak_in_use_bytes') / MiB,
    // what the RSS after is made of: the V8 heap (live + garbage not yet collected), memory
    // outside it that V8 knows of, and the budget's windows still allocated (0 once trimmed)
    heapTotalAfterMb: gauge('nodejs_heap_size_total_bytes') / MiB,
    heapUsedAfterMb: gauge('nodejs_heap_size_used_bytes') / MiB,
    externalAfterMb: gauge('nodejs_external_memory_bytes') / MiB,
    bufferAllocatedAfterMb: gauge('sluice_buffer_allocated_bytes') / MiB,
  };
}

async function measureOnce(
  variant: Variant,
  workload: Workload,
  root: string,
  quick: boolean,
): Promise<Metrics> {
  const server = await startServer(variant, root);
  try {
    await sleep(quick ? 50 : 200);
    const start = sampleProcesses(server.pids());
    if (workload.kind === 'keepalive') {
      const metrics = await keepAlive(server, workload, start, quick);
      if (variant === 'sluice') Object.assign(metrics, await sluiceGauges(server.port));
      return metrics;
    }
    const args: LoadArgs = {
      port: server.port,
      path: `/${workload.name}`,
      clients: workload.clients,
      // --quick: slow clients 4x faster, so the smoke run stays short
      bytesPerSecond: workload.kind === 'slow' ? (quick ? 4 * SLOW_RATE : SLOW_RATE) : 0,
      abortFraction: workload.kind === 'abort' ? 1 : workload.kind === 'slow' ? 0.1 : 0,
      timeoutMs: quick ? 60_000 : 20 * 60_000,
    };
    const client = await runInChild(new URL('./serve/loadgen.js', import.meta.url), 'load', args, {
      timeoutMs: args.timeoutMs + 30_000,
    });
    const loaded = sampleProcesses(server.pids());
    // RSS "after": once the connections are gone and the server sat idle for a moment
    await sleep(quick ? 300 : 1000);
    const after = sampleProcesses(server.pids());
    const metrics: Metrics = {
      peakRssMb: Math.max(loaded.peakRssMb, after.peakRssMb),
      rssAfterMb: after.rssMb,
      maxRequestMs: client.maxRequestMs ?? Number.NaN,
      cpuMs: loaded.cpuMs - start.cpuMs,
      mbPerS: client.mbPerS ?? Number.NaN,
      errors: client.errors ?? Number.NaN,
      openFdsAfter: after.openFds,
      rssStartMb: start.rssMb,
      openFdsStart: start.openFds,
      completed: client.completed ?? 0,
      aborted: client.aborted ?? 0,
    };
    if (variant === 'sluice') Object.assign(metrics, await sluiceGauges(server.port));
    return metrics;
  } finally {
    await server.stop();
  }
}

/** The 50-connection rung: wrk for a few seconds; bytes are requests times the file size. */
async function keepAlive(
  server: RunningServer,
  workload: Workload,
  start: ReturnType<typeof sampleProcesses>,
  quick: boolean,
): Promise<Metrics> {
  const result = await runWrk(
    server.port,
    `/${workload.name}`,
    workload.clients,
    quick ? 1 : KEEPALIVE_SECONDS,
  );
  const loaded = sampleProcesses(server.pids());
  await sleep(quick ? 300 : 1000);
  const after = sampleProcesses(server.pids());
  return {
    peakRssMb: Math.max(loaded.peakRssMb, after.peakRssMb),
    rssAfterMb: after.rssMb,
    maxRequestMs: result.maxLatencyMs,
    cpuMs: loaded.cpuMs - start.cpuMs,
    mbPerS: (result.requests * workload.size) / 1e6 / result.seconds,
    errors: result.errors,
    openFdsAfter: after.openFds,
    rssStartMb: start.rssMb,
    openFdsStart: start.openFds,
    completed: result.requests,
    aborted: 0,
  };
}

/** MemAvailable from /proc/meminfo, MB. */
function memAvailableMb(): number {
  const match = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return match === null ? 0 : Number(match[1]) / 1024;
}

/**
 * thread-per-client's memory per concurrent client, measured: CALIBRATION_CLIENTS slow clients
 * (2 s each, so all are served at once) against a fresh server; (peak - start) / clients.
 */
async function threadCostMb(root: string, path: string): Promise<{ perClientMb: number; startMb: number }> {
  const server = await startNodeServer('thread-per-client', root);
  try {
    await sleep(200);
    const start = sampleProcesses(server.pids());
    const args: LoadArgs = {
      port: server.port,
      path,
      clients: CALIBRATION_CLIENTS,
      bytesPerSecond: SLOW_RATE,
      abortFraction: 0,
      timeoutMs: 60_000,
    };
    await runInChild(new URL('./serve/loadgen.js', import.meta.url), 'load', args, { timeoutMs: 90_000 });
    const peak = sampleProcesses(server.pids()).peakRssMb;
    return { perClientMb: (peak - start.rssMb) / CALIBRATION_CLIENTS, startMb: start.rssMb };
  } finally {
    await server.stop();
  }
}

export const serve: Experiment = {
  name: 'serve',
  seed: '000_21847fc642026380.txt',
  title: 'N concurrent clients downloading a file: memory, CPU, time',
  description:
    "The seed's hyper test: 10..5000 concurrent clients download a 2 MiB file and a 636 MiB one " +
    "(plus 50 keep-alive connections under wrk for 5 s, the issue's nginx comparison) " +
    '(the seed used ApacheBench and siege), fast clients and clients reading at 1 MiB/s of which ' +
    '10% abort midway, and a rung of 1000 clients that all abort midway. Each server runs in its own ' +
    'process, the load generator (raw TCP sockets, connects ramped 256 at a time) in another. ' +
    'thread-per-client is the seed\'s "sync in channel": a worker thread per request reading with ' +
    'readSync, a bounded channel (4 chunks of 64 KiB) to the socket. stream-pipe is ' +
    'createReadStream().pipe(res). sluice is `sluice serve` as users run it: createDownloadServer (1 MiB ' +
    'windows, 32 MiB budget) on a server thread with an 8 MiB young generation, giving memory back ' +
    '0.5 s after the last transfer (idle windows freed, a compacting garbage collection). ' +
    'nginx is Debian nginx, 1 worker, sendfile on. Server peak RSS is VmHWM, CPU is utime+stime ' +
    'during the load, both from /proc.',
  variants: VARIANTS,
  baseline: 'thread-per-client',
  metrics: ['peakRssMb', 'rssAfterMb', 'maxRequestMs', 'cpuMs', 'mbPerS', 'errors', 'openFdsAfter'],
  headline: { metric: 'mbPerS', higherIsBetter: true },
  async run(context) {
    const notes: string[] = [];
    // --file=2MiB,book.zip --clients=1000,5000 --kind=slow: a part of the grid
    const only = (flag: string): string[] | undefined =>
      typeof context.flags[flag] === 'string' ? String(context.flags[flag]).split(',') : undefined;
    const files = only('file');
    const clientCounts = only('clients');
    const kinds = only('kind');
    const list = workloads(context).filter(
      (workload) =>
        (files === undefined || files.includes(workload.file)) &&
        (clientCounts === undefined || clientCounts.includes(String(workload.clients))) &&
        (kinds === undefined || kinds.includes(workload.kind)),
    );
    const prepared = new Map<string, string>();
    for (const workload of list) {
      if (prepared.has(workload.name)) continue;
      if (workload.file === ZIP_FILE) {
        ensureBook();
        prepared.set(workload.name, BOOK.dir);
        continue;
      }
      context.progress(`preparing ${workload.name} (${workload.size} bytes)`);
      const file = ensureFile(workload.name, workload.size, workload.size === 2 * MiB ? 21 : 636);
      prepared.set(workload.name, file);
    }
    const root = dataDir();
    const haveNginx = nginxInstalled();
    if (!haveNginx) notes.push('nginx: /usr/sbin/nginx is not installed; its rows are skipped');
    const haveWrk = wrkInstalled();
    if (!haveWrk) notes.push('wrk is not installed: the keep-alive rows are skipped');
    // thread-per-client: which rungs fit in memory, from its measured cost per concurrent client
    let threadCost: { perClientMb: number; startMb: number; availableMb: number } | undefined;
    const threadRungs = list.filter(
      (workload) => workload.file !== ZIP_FILE && workload.kind !== 'keepalive',
    );
    if (selected(context, 'thread-per-client') && threadRungs.length > 0) {
      context.progress(
        `thread-per-client: measuring its memory per client (${CALIBRATION_CLIENTS} slow clients)`,
      );
      const small = list.find((workload) => workload.size === 2 * MiB) ?? threadRungs[0]!;
      threadCost = { ...(await threadCostMb(root, `/${small.name}`)), availableMb: memAvailableMb() };
      notes.push(
        `thread-per-client costs ${threadCost.perClientMb.toFixed(1)} MB of RSS per concurrent client ` +
          `(a Node worker thread each; measured with ${CALIBRATION_CLIENTS} slow clients); its rungs run while ` +
          `start RSS + clients x that <= ${THREADS_MEMORY_SHARE * 100}% of MemAvailable ` +
          `(${Math.round(threadCost.availableMb)} MB at the start of this run), and are skipped above with the projection.`,
      );
    }
    const cases: Case[] = [];
    for (const workload of list) {
      for (const variant of VARIANTS) {
        if (!selected(context, variant)) continue;
        const dims = { file: workload.file, clients: workload.clients, clients_kind: workload.kind };
        const entry: Case = {
          variant,
          dims,
          run: () => {
            // the served file (or book) back in the page cache if the host took it (data.ts)
            const served = prepared.get(workload.name)!;
            if (served === BOOK.dir) warmTree(path.join(dataDir(), served));
            else warmPageCache(served);
            return measureOnce(variant, workload, root, context.quick);
          },
        };
        if (variant === 'nginx' && !haveNginx) entry.skipped = 'nginx not installed';
        if (workload.file === ZIP_FILE && (variant === 'nginx' || variant === 'thread-per-client')) {
          entry.skipped = 'no on-the-fly ZIP in this server (nginx needs mod_zip, not in Debian)';
        }
        if (variant === 'thread-per-client' && threadCost !== undefined && entry.skipped === undefined) {
          const projectedMb = threadCost.startMb + workload.clients * threadCost.perClientMb;
          const allowedMb = threadCost.availableMb * THREADS_MEMORY_SHARE;
          if (projectedMb > allowedMb) {
            entry.skipped =
              `${workload.clients} worker threads: projected peak ${Math.round(projectedMb)} MB ` +
              `(${threadCost.perClientMb.toFixed(1)} MB measured per client) > ${Math.round(allowedMb)} MB ` +
              `(${THREADS_MEMORY_SHARE * 100}% of MemAvailable)`;
          }
        }
        if (workload.kind === 'keepalive' && !haveWrk) entry.skipped = 'wrk not installed';
        cases.push(entry);
      }
    }
    const rows = await measureInterleaved(cases, context);
    notes.push(
      'mbPerS is the body bytes all clients received divided by the wall time of the whole load; ' +
        'maxRequestMs excludes aborted clients; openFdsAfter and rssAfterMb are read 1 s after the last client finished.',
      `keepalive rows: wrk, ${context.quick ? 1 : KEEPALIVE_SECONDS} s, one connection per client requesting the file again and again ` +
        "(the issue's nginx comparison); mbPerS = requests x file size / duration, maxRequestMs = wrk's max latency.",
      `${ZIP_FILE} rows: clients download a book (${BOOK.chapters} x ${BOOK.chapterSize / 1024} KiB) as an on-the-fly ZIP; ` +
        'sluice serves /<book>.zip (exact Content-Length, Range); the stream-pipe row is archiver (store) piped to the ' +
        'response, chunked, whose byte count includes the chunk framing.',
      'sluice rows also report windowsInUseAfter and openFilesAfter from its own /metrics (both must be 0), bufferPeakMb, ' +
        'and what its RSS after is made of: heapTotalAfterMb / heapUsedAfterMb (V8 heap committed / used, garbage ' +
        'included: an idle process does not collect), externalAfterMb, bufferAllocatedAfterMb (budget windows still allocated).',
    );
    const result: ExperimentResult = {
      experiment: 'serve',
      params: {
        quick: context.quick,
        full: context.full,
        runs: context.runs,
        warmup: context.warmup,
        slowClientBytesPerSecond: SLOW_RATE,
        slowAbortFraction: 0.1,
        threadPerClientMbPerClient: threadCost?.perClientMb ?? null,
        memAvailableMb: threadCost?.availableMb ?? null,
        keepAliveSeconds: context.quick ? 1 : KEEPALIVE_SECONDS,
        filters: { file: files ?? null, clients: clientCounts ?? null, kind: kinds ?? null },
        workloads: list.map((workload) => ({ ...workload })),
      },
      env: {} as ExperimentResult['env'],
      rows,
      notes,
    };
    return result;
  },
};
