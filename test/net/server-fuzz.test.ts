/**
 * Hostile input against a frame server on loopback: random bytes, truncated frames, oversized and
 * malformed frames, each cut at random chunk boundaries. The bad connection is closed with a
 * goaway naming the code; well-behaved connections keep working; memory stays flat.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import {
  createFrameServer,
  encodeFrame,
  FrameDecoder,
  FramedConnection,
  type FrameServer,
} from '../../src/net/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const KIND_REQUEST = 1;

function requestFrame(id: number, body: Buffer): Buffer {
  const payload = Buffer.alloc(5 + body.length);
  payload[0] = KIND_REQUEST;
  payload.writeUInt32BE(id, 1);
  body.copy(payload, 5);
  return encodeFrame(payload);
}

interface RawOutcome {
  /** Replies (id -> body) received before the close. */
  replies: Map<number, string>;
  /** The goaway's code, if one came. */
  goawayCode: string | undefined;
  closedByServer: boolean;
}

/** Sends `bytes` in the given chunks on a raw socket; collects replies until the server closes it. */
async function rawExchange(port: number, chunks: Buffer[], endAfter: boolean): Promise<RawOutcome> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const outcome: RawOutcome = { replies: new Map(), goawayCode: undefined, closedByServer: false };
  const decoder = new FrameDecoder((payload) => {
    const kind = payload[0];
    const body = payload.subarray(5).toString();
    if (kind === 2) outcome.replies.set(payload.readUInt32BE(1), body);
    if (kind === 4) outcome.goawayCode = body.slice(0, body.indexOf('\n'));
  });
  socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.once('end', () => {
    outcome.closedByServer = true;
  });
  for (const chunk of chunks) {
    if (socket.destroyed) break;
    socket.write(chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (endAfter) socket.end();
  const timer = setTimeout(() => socket.destroy(), 3000);
  await closed;
  clearTimeout(timer);
  return outcome;
}

function split(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((offset) => offset % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    if (point > start) chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

async function withServer(body: (port: number, server: FrameServer) => Promise<void>): Promise<void> {
  const server = createFrameServer((frame) => frame, { maxFrameSize: 4096 });
  const { port } = await server.listen(0);
  try {
    await body(port, server);
  } finally {
    await server.close();
  }
}

const badFrame = fc.oneof(
  // Oversized: a prefix past maxFrameSize (4096), with a little of its payload.
  fc
    .record({ length: fc.integer({ min: 4097, max: 2 ** 32 - 1 }), tail: fc.uint8Array({ maxLength: 64 }) })
    .map(({ length, tail }) => {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(length);
      return { bytes: Buffer.concat([header, tail]), code: 'SLUICE_ERR_FRAME_TOO_LARGE' };
    }),
  // Shorter than the 5-byte envelope.
  fc.uint8Array({ maxLength: 4 }).map((payload) => ({
    bytes: encodeFrame(payload),
    code: 'SLUICE_ERR_FRAME_MALFORMED',
  })),
  // An unknown kind.
  fc
    .record({ kind: fc.integer({ min: 5, max: 255 }), rest: fc.uint8Array({ minLength: 4, maxLength: 40 }) })
    .map(({ kind, rest }) => ({
      bytes: encodeFrame(Buffer.concat([Buffer.of(kind), rest])),
      code: 'SLUICE_ERR_FRAME_MALFORMED',
    })),
);

test('good requests before a bad frame are answered, then the connection gets a goaway with the code (property)', async () => {
  await withServer(async (port, server) => {
    const protocolErrors: string[] = [];
    server.on('protocolError', (error: { code: string }) => protocolErrors.push(error.code));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ maxLength: 30 }), { maxLength: 5 }),
        badFrame,
        fc.array(fc.nat(), { maxLength: 8 }),
        async (bodies, bad, offsets) => {
          const good = Buffer.concat(bodies.map((body, index) => requestFrame(index + 1, Buffer.from(body))));
          const stream = Buffer.concat([good, bad.bytes]);
          const outcome = await rawExchange(port, split(stream, offsets), false);
          assert.equal(outcome.goawayCode, bad.code);
          assert.equal(outcome.closedByServer, true);
          assert.deepEqual(
            [...outcome.replies.entries()],
            bodies.map((body, index) => [index + 1, body]),
          );
        },
      ),
      { numRuns: 40 },
    );
    assert.equal(protocolErrors.length, 40);
    assert.equal(server.connections, 0);
  });
});

test('random bytes and truncated frames never crash the server; a good client keeps working; memory stays flat', async () => {
  await withServer(async (port, server) => {
    const good = await FramedConnection.connect({ port, host: '127.0.0.1' });
    let goodRequests = 0;
    const hostileRound = async (seed: number): Promise<void> => {
      const samples = fc.sample(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 2000 }).map((bytes) => Buffer.from(bytes)),
          // A truncated frame: a valid request cut short, then the client hangs up.
          fc.record({ body: fc.uint8Array({ maxLength: 500 }), keep: fc.nat() }).map(({ body, keep }) => {
            const frame = requestFrame(7, Buffer.from(body));
            return frame.subarray(0, keep % frame.length);
          }),
        ),
        { seed, numRuns: 25 },
      );
      await Promise.all(
        samples.map(async (bytes, index) => {
          await rawExchange(port, split(bytes, [index * 7, index * 13, index * 31]), true);
          assert.equal((await good.request(`still here ${index}`)).toString(), `still here ${index}`);
          goodRequests++;
        }),
      );
    };
    await hostileRound(1);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let round = 2; round <= 6; round++) await hostileRound(round);
    gc();
    const growth = process.memoryUsage().heapUsed - before;
    assert.ok(growth < 4 * 1024 * 1024, `heap grew by ${growth} bytes over 125 hostile connections`);
    assert.equal(goodRequests, 150);
    assert.equal(server.connections, 1, 'only the good connection is left');
    await good.close();
  });
});
