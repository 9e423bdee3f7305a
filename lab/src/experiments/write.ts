import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataDir } from '../harness/data.js';
import { type Case, measureInterleaved, selected } from '../harness/measure.js';
import { runInChild } from '../harness/process.js';
import type { Experiment, Metrics, Row, RunContext } from '../harness/types.js';
import type { FileTaskArgs, SocketTaskArgs } from './write-child.js';

const variants = ['writeSync-per-line', 'createWriteStream', 'sonic-boom', 'sluice'] as const;
const childModule = new URL('./write-child.js', import.meta.url);
const readerScript = fileURLToPath(new URL('./write-reader.js', import.meta.url));
const childEntry = fileURLToPath(new URL('../harness/child-entry.js', import.meta.url));
const strace = '/usr/bin/strace';

/** The syscalls that write bytes: what `syscallsPerOp` counts (the threadpool's too: strace -f). */
const writeSyscalls = new Set([
  'write',
  'writev',
  'pwrite64',
  'pwritev',
  'pwritev2',
  'sendmsg',
  'sendto',
  'sendmmsg',
]);

const socketSkips: Record<string, string> = {
  createWriteStream: 'not a socket writer (see notes)',
  'sonic-boom': 'not a socket writer (see notes)',
};

const socketSkipNotes = [
  'socket createWriteStream: fs.createWriteStream opens files; on a socket the Node stream is the socket ' +
    'itself, which the writeSync-per-line row measures (one socket.write per frame, honouring drain)',
  'socket sonic-boom: it writes to files and fds with fs.write; a socket fd is non-blocking, so it would ' +
    'busy-retry EAGAIN: not a socket writer',
];

export const writeExperiment: Experiment = {
  name: 'write',
  seed: '003_f88e171b64c17b88.txt, 004_39cf82e85db97a88.txt',
  title: 'many small writes: 1e6 x 100-byte lines to a file, 1e6 small frames to a socket',
  description:
    'Seed 003 asks for writes into library-managed buffers committed explicitly; seed 004 shows what one ' +
    'syscall per message costs (70k -> 200k ops/s once buffered). Each variant appends 1e6 lines of 100 ' +
    'bytes to a file in a fresh process (writeSync per line, fs.createWriteStream and sonic-boom honouring ' +
    "'drain', sluice's BatchWriter honouring write() === false), and sends 1e6 64-byte frames over loopback " +
    'TCP to a reader in another process. Time runs until the bytes are in the kernel (file closed; reader ' +
    'confirmed the count). Write syscalls per op come from a separate run of the writer under strace -f -c.',
  variants,
  baseline: 'createWriteStream',
  metrics: ['ms', 'mbPerS', 'syscallsPerOp', 'peakRssMb'],
  headline: { metric: 'mbPerS', higherIsBetter: true },
  async run(context: RunContext) {
    const lines = numberFlag(context, 'lines', context.quick ? 20_000 : 1_000_000);
    const frames = numberFlag(context, 'frames', context.quick ? 20_000 : 1_000_000);
    const lineBytes = 100;
    const frameBytes = 64;
    const countedOps = numberFlag(context, 'counted-ops', Math.min(200_000, lines));
    const strategy = typeof context.flags.strategy === 'string' ? context.flags.strategy : 'auto';
    const workloads =
      typeof context.flags.workload === 'string' ? [context.flags.workload] : ['file', 'socket'];
    const notes: string[] = [];
    const timeoutMs = context.quick ? 60_000 : 600_000;

    const reader = workloads.includes('socket') ? await startReader() : undefined;
    try {
      const fileArgs = (variant: string, ops: number): FileTaskArgs => ({
        variant,
        file: path.join(dataDir(), `write-${variant}-${process.pid}.log`),
        lines: ops,
        lineBytes,
        strategy,
      });
      const socketArgs = (variant: string, ops: number): SocketTaskArgs => ({
        variant,
        port: reader!.port,
        frames: ops,
        frameBytes,
      });
      const cases: (Case & { counted?: () => Promise<number> })[] = [];
      for (const variant of variants) {
        if (!selected(context, variant)) continue;
        if (workloads.includes('file')) {
          cases.push({
            variant,
            dims: { workload: 'file' },
            run: () => runInChild(childModule, 'fileTask', fileArgs(variant, lines), { timeoutMs }),
            counted: () => countWriteSyscalls('fileTask', fileArgs(variant, countedOps), timeoutMs),
          });
        }
        if (workloads.includes('socket')) {
          const skipped = socketSkips[variant];
          cases.push({
            variant,
            dims: { workload: 'socket' },
            ...(skipped === undefined ? {} : { skipped }),
            run: () => runInChild(childModule, 'socketTask', socketArgs(variant, frames), { timeoutMs }),
            counted: () => countWriteSyscalls('socketTask', socketArgs(variant, countedOps), timeoutMs),
          });
        }
      }
      const rows = await measureInterleaved(cases, context);
      if (existsSync(strace)) {
        for (const [index, entry] of cases.entries()) {
          const row = rows[index]!;
          if (entry.skipped !== undefined || entry.counted === undefined) continue;
          context.progress(`strace -f -c: ${entry.variant} ${row.dims.workload}`);
          try {
            const calls = await entry.counted();
            row.median.syscallsPerOp = Math.round((calls / countedOps) * 1e5) / 1e5;
          } catch (error) {
            notes.push(`strace run of ${entry.variant} (${row.dims.workload}) failed: ${String(error)}`);
          }
        }
        notes.push(
          `syscallsPerOp: write-family syscalls (${[...writeSyscalls].join(', ')}) of the writer process and its ` +
            `threads under strace -f -c, over a separate run of ${countedOps} ops, divided by ${countedOps}`,
        );
      } else {
        notes.push(`syscallsPerOp not measured: ${strace} not found`);
      }
      if (workloads.includes('socket')) notes.push(...socketSkipNotes, ...socketNotes(rows));
      return {
        experiment: 'write',
        params: { lines, lineBytes, frames, frameBytes, countedOps, strategy, workloads },
        env: {} as never,
        rows,
        notes,
      };
    } finally {
      reader?.stop();
    }
  },
};

function numberFlag(context: RunContext, name: string, fallback: number): number {
  const value = context.flags[name];
  if (typeof value !== 'string') return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new Error(`--${name} must be a positive integer; got ${value}`);
  return parsed;
}

/** The socket rows have no createWriteStream baseline: relate sluice to one write per frame instead. */
function socketNotes(rows: readonly Row[]): string[] {
  const find = (variant: string): Metrics | undefined =>
    rows.find((row) => row.variant === variant && row.dims.workload === 'socket' && row.skipped === undefined)
      ?.median;
  const perFrame = find('writeSync-per-line');
  const sluice = find('sluice');
  if (perFrame?.mbPerS === undefined || sluice?.mbPerS === undefined) return [];
  return [
    `socket: sluice moves ${(sluice.mbPerS / perFrame.mbPerS).toFixed(2)}x the bytes per second of one socket.write per frame`,
  ];
}

interface Reader {
  port: number;
  stop(): void;
}

/** Starts the reading peer in a process of its own and waits for its port. */
function startReader(): Promise<Reader> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [readerScript], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let output = '';
    const stop = (): void => {
      child.stdin?.end();
      if (child.exitCode === null && child.pid !== undefined) child.kill('SIGTERM');
    };
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`the socket reader exited early (code ${code})`)));
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /PORT (\d+)/.exec(output);
      if (match) resolve({ port: Number(match[1]), stop });
    });
  });
}

/** Runs one case under `strace -f -c` and returns its write-family syscall count. */
function countWriteSyscalls(exportName: string, args: unknown, timeoutMs: number): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-strace-'));
  const output = path.join(dir, 'counts.txt');
  return new Promise<number>((resolve, reject) => {
    const child = spawn(
      strace,
      [
        '-f',
        '-c',
        '-o',
        output,
        process.execPath,
        childEntry,
        String(childModule),
        exportName,
        JSON.stringify(args),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new Error(`strace exited with ${code}: ${stderr.trim()}`);
        resolve(parseStraceCounts(readFileSync(output, 'utf8')));
      } catch (error) {
        reject(error);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

/** Sums the `calls` column of `strace -c` for the write-family syscalls. */
export function parseStraceCounts(text: string): number {
  let calls = 0;
  for (const line of text.split('\n')) {
    // % time  seconds  usecs/call  calls  [errors]  syscall
    const fields = line.trim().split(/\s+/);
    const name = fields.at(-1);
    if (name === undefined || !writeSyscalls.has(name) || !/^[\d.]+$/.test(fields[0] ?? '')) continue;
    const count = Number(fields[3]);
    if (Number.isFinite(count)) calls += count;
  }
  return calls;
}
