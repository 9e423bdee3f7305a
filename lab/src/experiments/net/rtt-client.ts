/**
 * The measuring side of `rtt` (runs in its own process through runInChild): 64-byte ping-pong
 * against a server process, closed loop (one ping at a time, paced) or open loop (pings leave on
 * schedule whatever the replies; latency counts from the due time, so a stall shows up in every
 * ping it delays: no coordinated omission).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { createHistogram } from 'node:perf_hooks';
import { FramedConnection } from 'sluice/net';
import { type LoadKind, startLoad } from './load.js';
import { now, waitUntil } from './pacing.js';

export interface PingArgs {
  variant: 'net-naive' | 'sluice';
  proto: 'tcp' | 'udp';
  port: number;
  /** Messages per second; 0 = back-to-back. */
  rate: number;
  loop: 'closed' | 'open';
  /** Measured samples (warm-up excluded). */
  samples: number;
  /** Unmeasured pings first (the first ones also warm up the JIT). */
  warmup: number;
  loadKind: LoadKind;
  load: number;
  /** sluice/net flush scheduling (default 'tick'). */
  scheduling?: 'tick' | 'immediate';
  /** Back-to-back pings first, unmeasured (default 3000). */
  jitWarmup?: number;
}

const MESSAGE_BYTES = 64;

/** One transport: `send()` sends a 64-byte ping; `onReply` is called once per pong, in order. */
export interface Pinger {
  send(): void;
  onReply: () => void;
  /** Closed loop: one ping, resolved by its pong, through the transport's natural API. */
  ping(): Promise<unknown>;
  close(): void;
}

/** `ping()` for transports without a request API: a promise resolved by the next `onReply`. */
function pingThroughReplies(pinger: Pinger): () => Promise<unknown> {
  return () =>
    new Promise<void>((resolve) => {
      pinger.onReply = resolve;
      pinger.send();
    });
}

async function connect(args: PingArgs): Promise<Pinger> {
  const message = Buffer.alloc(MESSAGE_BYTES, 0x5a);
  if (args.proto === 'udp') {
    const pinger: Pinger = { send: () => {}, onReply: () => {}, ping: async () => {}, close: () => {} };
    pinger.ping = pingThroughReplies(pinger);
    const socket = dgram.createSocket('udp4');
    socket.on('message', () => pinger.onReply());
    if (args.variant === 'sluice') {
      // Against `sluice echo --udp`; the client socket is connected, so no address per send.
      await new Promise<void>((resolve) => socket.connect(args.port, '127.0.0.1', resolve));
      pinger.send = () => socket.send(message);
    } else {
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      pinger.send = () => socket.send(message, args.port, '127.0.0.1');
    }
    pinger.close = () => socket.close();
    return pinger;
  }
  return args.variant === 'sluice'
    ? framedPinger(args.port, args.scheduling ?? 'tick')
    : socketPinger(args.port, message);
}

/** `FramedConnection.request` with a 64-byte body, against a frame server on `port`. */
export async function framedPinger(port: number, scheduling: 'tick' | 'immediate'): Promise<Pinger> {
  const message = Buffer.alloc(MESSAGE_BYTES, 0x5a);
  const connection = await FramedConnection.connect({ port, host: '127.0.0.1', scheduling });
  const pinger: Pinger = {
    send: () => {
      connection.request(message).then(
        () => pinger.onReply(),
        (error: unknown) => {
          throw error;
        },
      );
    },
    onReply: () => {},
    ping: () => connection.request(message),
    close: () => connection.destroy(),
  };
  return pinger;
}

/** A plain TCP socket that sends `message` and takes every `message.length` bytes back as a reply. */
export async function socketPinger(port: number, message: Buffer): Promise<Pinger> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const pinger: Pinger = {
    send: () => socket.write(message),
    onReply: () => {},
    ping: async () => {},
    close: () => socket.destroy(),
  };
  pinger.ping = pingThroughReplies(pinger);
  let pending = 0;
  socket.on('data', (chunk: Buffer) => {
    pending += chunk.length;
    while (pending >= message.length) {
      pending -= message.length;
      pinger.onReply();
    }
  });
  return pinger;
}

/** Back-to-back pings before anything is measured, so both clients run optimized code. */
const JIT_WARMUP_PINGS = 3000;

async function warmUp(pinger: Pinger, count: number): Promise<void> {
  for (let index = 0; index < count; index++) await pinger.ping();
}

export async function pingPong(args: PingArgs): Promise<Record<string, number>> {
  const pinger = await connect(args);
  await warmUp(pinger, args.jitWarmup ?? JIT_WARMUP_PINGS);
  const stopLoad = startLoad(args.loadKind, args.load);
  const histogram = createHistogram();
  const interval = args.rate === 0 ? 0n : BigInt(Math.round(1e9 / args.rate));
  const total = args.warmup + args.samples;
  let measuredStart = 0n;
  let measuredEnd = 0n;

  if (args.loop === 'closed') {
    let due = now();
    for (let index = 0; index < total; index++) {
      if (interval > 0n) await waitUntil(due);
      const sent = now();
      if (index === args.warmup) measuredStart = sent;
      await pinger.ping();
      const received = now();
      if (index >= args.warmup) histogram.record(Number(received - sent) || 1);
      // Closed loop: a late ping never makes the next ones leave in a burst to catch up.
      due = due + interval > received ? due + interval : received;
    }
    measuredEnd = now();
  } else {
    // Open loop: due times go into a FIFO; replies come back in order (TCP, and UDP on loopback).
    const dueTimes: bigint[] = [];
    let head = 0;
    let replies = 0;
    let allReplied: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      allReplied = resolve;
    });
    pinger.onReply = () => {
      const received = now();
      const due = dueTimes[head++]!;
      if (replies >= args.warmup) histogram.record(Number(received - due) || 1);
      replies++;
      if (replies === total) {
        measuredEnd = received;
        allReplied();
      }
    };
    const start = now() + 1_000_000n;
    for (let index = 0; index < total; index++) {
      const due = start + BigInt(index) * interval;
      await waitUntil(due);
      if (index === args.warmup) measuredStart = due;
      dueTimes.push(due);
      pinger.send();
    }
    const timeout = setTimeout(allReplied, 5000);
    await done;
    clearTimeout(timeout);
    if (replies < total) throw new Error(`only ${replies} of ${total} replies arrived (UDP loss?)`);
  }
  await stopLoad();
  pinger.close();
  const seconds = Number(measuredEnd - measuredStart) / 1e9;
  return {
    p50Us: histogram.percentile(50) / 1000,
    p99Us: histogram.percentile(99) / 1000,
    achievedRate: args.samples / seconds,
    samples: histogram.count,
  };
}
