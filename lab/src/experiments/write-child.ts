/**
 * The measured side of the `write` experiment: each export runs in a fresh Node process (see
 * `runInChild`), writes the workload with one variant and returns `{ ms, mbPerS }`. The harness adds
 * the process's peak RSS; the experiment adds `syscallsPerOp` from a separate run under strace.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import { finished } from 'node:stream/promises';
import { BatchWriter } from 'sluice/write';
import sonicBoom from 'sonic-boom';

// sonic-boom is CommonJS: its module.exports is the class, which also carries itself as .SonicBoom
const { SonicBoom } = sonicBoom;

export interface FileTaskArgs {
  variant: string;
  file: string;
  lines: number;
  lineBytes: number;
  /** sluice's file strategy: 'auto' | 'sync' | 'threadpool'. */
  strategy: string;
}

export interface SocketTaskArgs {
  variant: string;
  port: number;
  frames: number;
  frameBytes: number;
}

/** One line of `lineBytes` bytes ending in a newline, as a log line is (a string: how loggers write). */
function makeLine(bytes: number): string {
  return `${'sluice write experiment '.repeat(Math.ceil(bytes / 24)).slice(0, bytes - 1)}\n`;
}

/** Appends `lines` lines to `file` with one variant; the time runs from open until the bytes are in the kernel. */
export async function fileTask(args: FileTaskArgs): Promise<Record<string, number>> {
  const { variant, file, lines, lineBytes } = args;
  const line = makeLine(lineBytes);
  fs.rmSync(file, { force: true });
  const started = performance.now();
  switch (variant) {
    case 'writeSync-per-line': {
      const fd = fs.openSync(file, 'a');
      for (let index = 0; index < lines; index++) fs.writeSync(fd, line);
      fs.closeSync(fd);
      break;
    }
    case 'createWriteStream': {
      const stream = fs.createWriteStream(file, { flags: 'a' });
      for (let index = 0; index < lines; index++) {
        if (!stream.write(line)) await once(stream, 'drain');
      }
      stream.end();
      await finished(stream);
      break;
    }
    case 'sonic-boom': {
      // minLength 4096 as in the measurement; honouring 'drain' keeps its memory bounded
      const boom = new SonicBoom({ dest: file, minLength: 4096, append: true });
      await once(boom, 'ready');
      for (let index = 0; index < lines; index++) {
        if (!boom.write(line)) await once(boom, 'drain');
      }
      const closed = once(boom, 'close');
      boom.end();
      await closed;
      break;
    }
    case 'sluice': {
      const strategy = args.strategy as 'auto' | 'sync' | 'threadpool';
      const writer = await BatchWriter.open(file, { mode: 'append', strategy });
      for (let index = 0; index < lines; index++) {
        if (!writer.write(line)) await writer.ready();
      }
      await writer.close();
      break;
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
  const ms = performance.now() - started;
  const size = fs.statSync(file).size;
  fs.rmSync(file, { force: true });
  const expected = lines * lineBytes;
  if (size !== expected) throw new Error(`${variant} wrote ${size} bytes, expected ${expected}`);
  return { ms, mbPerS: expected / 1e6 / (ms / 1000) };
}

/** One frame: a 4-byte big-endian length, then the payload (the shape `sluice/net` frames have). */
function makeFrame(bytes: number): Buffer {
  const frame = Buffer.alloc(bytes, 0x61);
  frame.writeUInt32BE(bytes - 4, 0);
  return frame;
}

/**
 * Sends `frames` frames to the reader process on `port`, then ends the connection; the time runs
 * from connected until the reader confirmed it received every byte.
 */
export async function socketTask(args: SocketTaskArgs): Promise<Record<string, number>> {
  const { variant, port, frames, frameBytes } = args;
  const frame = makeFrame(frameBytes);
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await once(socket, 'connect');
  const reply: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => reply.push(chunk));
  const replied = once(socket, 'end');
  const started = performance.now();
  switch (variant) {
    case 'writeSync-per-line': {
      // one socket.write() per frame: one syscall per message while the kernel takes them (seed 004)
      for (let index = 0; index < frames; index++) {
        if (!socket.write(frame)) await once(socket, 'drain');
      }
      socket.end();
      break;
    }
    case 'sluice': {
      const writer = await BatchWriter.open(socket, { autoClose: true });
      for (let index = 0; index < frames; index++) {
        if (!writer.write(frame)) await writer.ready();
      }
      await writer.close();
      break;
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
  await replied;
  const ms = performance.now() - started;
  const received = Number(Buffer.concat(reply).readBigUInt64BE(0));
  const expected = frames * frameBytes;
  if (received !== expected)
    throw new Error(`${variant}: the reader got ${received} bytes, expected ${expected}`);
  socket.destroy();
  return { ms, mbPerS: expected / 1e6 / (ms / 1000) };
}
