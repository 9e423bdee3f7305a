/**
 * `coalesce` (seed 004): one connection, 1 to 1000 requests in flight, 64-byte frames; a client
 * that writes each message with its own `socket.write` against sluice's FramedConnection.
 *
 * Each run is two client processes against a fresh server process: an untraced one gives opsPerS
 * and p99Us; one under `strace -f -c -e trace=write,writev,sendmsg` gives syscallsPerOp (write
 * syscalls of the whole client process over all its operations, warm-up included). Without strace
 * (or where ptrace is forbidden), syscallsPerOp is counted at the JS level (calls into the socket's
 * `_write`/`_writev`) and a note says so.
 */
import { environment } from '../harness/env.js';
import { type Case, measureInterleaved, selected } from '../harness/measure.js';
import { runInChild } from '../harness/process.js';
import type { Experiment, RunContext } from '../harness/types.js';
import type { CoalesceArgs } from './net/coalesce-client.js';
import { schedulingFlag, startNodeServer } from './net/process.js';
import { runTraced, straceAvailable } from './net/strace.js';

const clientModule = new URL('./net/coalesce-client.js', import.meta.url);

function sizes(context: RunContext): { inFlight: number[]; ops: number; tracedOps: number } {
  if (context.quick) return { inFlight: [1, 1000], ops: 20_000, tracedOps: 5000 };
  if (context.full)
    return { inFlight: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], ops: 200_000, tracedOps: 50_000 };
  return { inFlight: [1, 10, 100, 1000], ops: 100_000, tracedOps: 20_000 };
}

export const coalesce: Experiment = {
  name: 'coalesce',
  seed: '004_39cf82e85db97a88.txt',
  title: 'Requests in flight on one connection: write per message vs coalesced writes',
  description:
    'One TCP connection between two processes, 1 to 1000 requests of 64 bytes kept in flight. ' +
    '`write-per-message` issues one socket.write per request (one syscall each, as the driver in seed 004 ' +
    'did); `sluice` queues frames and sends everything queued in one turn with one writev. Ops/s and p99 ' +
    'latency from an untraced run; write syscalls per request counted with strace.',
  variants: ['write-per-message', 'sluice'],
  baseline: 'write-per-message',
  metrics: ['opsPerS', 'syscallsPerOp', 'p99Us'],
  headline: { metric: 'opsPerS', higherIsBetter: true },

  async run(context) {
    const size = sizes(context);
    const traced = straceAvailable();
    const scheduling = schedulingFlag(context.flags);
    const cases: Case[] = [];
    for (const inFlight of size.inFlight) {
      for (const variant of ['write-per-message', 'sluice'] as const) {
        if (!selected(context, variant)) continue;
        const serverKind = variant === 'sluice' ? 'sluice-frame' : 'naive-frame';
        const warmup = Math.min(10_000, Math.round(size.ops / 10));
        cases.push({
          variant,
          dims: { inFlight },
          run: async () => {
            const server = await startNodeServer(serverKind, scheduling);
            try {
              const args: CoalesceArgs = {
                variant,
                port: server.port,
                inFlight,
                ops: size.ops,
                warmup,
                scheduling,
              };
              const timed = await runInChild(clientModule, 'coalesceClient', args, { timeoutMs: 300_000 });
              let syscallsPerOp = timed.jsWritesPerOp!;
              if (traced) {
                const tracedArgs: CoalesceArgs = { ...args, ops: size.tracedOps, warmup: 0 };
                const counted = await runTraced(clientModule, 'coalesceClient', tracedArgs);
                syscallsPerOp = counted.writeSyscalls! / size.tracedOps;
              }
              return {
                opsPerS: timed.opsPerS!,
                syscallsPerOp,
                p99Us: timed.p99Us!,
                jsWritesPerOp: timed.jsWritesPerOp!,
              };
            } finally {
              await server.stop();
            }
          },
        });
      }
    }
    const rows = await measureInterleaved(cases, context);
    const notes = [
      traced
        ? 'syscallsPerOp: write + writev + sendmsg calls of the client process (all threads) under strace -f -c, ' +
          'divided by its requests; opsPerS and p99Us come from a separate untraced run.'
        : 'strace is missing or cannot trace here: syscallsPerOp is counted at the JS level (calls into the ' +
          "socket's _write/_writev, one syscall each when the socket is writable).",
      'jsWritesPerOp (JSON only): the same count at the JS level, from the untraced run.',
    ];
    return {
      experiment: 'coalesce',
      params: {
        quick: context.quick,
        full: context.full,
        runs: context.runs,
        warmup: context.warmup,
        scheduling,
        ...size,
      },
      env: environment(),
      rows,
      notes,
    };
  },
};
