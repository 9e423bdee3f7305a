import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { SockperfReflector } from '../../src/net/echo.js';
import { createTcpEchoServer, createUdpEchoServer } from '../../src/net/index.js';
import { receive } from './helpers.js';

const bin = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));

/** A sockperf message: u64 sequence, u16 flags, u32 length (header included), then filler. */
function sockperfMessage(sequence: number, flags: number, length: number): Buffer {
  const message = Buffer.alloc(length, 0xab);
  message.writeBigUInt64BE(BigInt(sequence), 0);
  message.writeUInt16BE(flags, 8);
  message.writeUInt32BE(length, 10);
  return message;
}

test('the TCP echo server sends every byte back', async () => {
  const server = await createTcpEchoServer({ port: 0 });
  const socket = net.connect({ port: server.address().port, host: '127.0.0.1' });
  const payload = Buffer.alloc(200_000, 7);
  const echoed = receive(socket, payload.length);
  socket.write(payload);
  assert.deepEqual(await echoed, payload);
  socket.destroy();
  await server.close();
});

test('the UDP echo server sends every datagram back to its sender', async () => {
  const server = await createUdpEchoServer({ port: 0 });
  const client = dgram.createSocket('udp4');
  const reply = new Promise<Buffer>((resolve) => client.once('message', resolve));
  client.send(Buffer.from('ping'), server.address().port, '127.0.0.1');
  assert.equal((await reply).toString(), 'ping');
  client.close();
  await server.close();
});

test('sockperf mode clears only the client flag of each message, at any chunk boundary (property)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({ flags: fc.integer({ min: 0, max: 0xffff }), length: fc.integer({ min: 14, max: 100 }) }),
        {
          minLength: 1,
          maxLength: 10,
        },
      ),
      fc.array(fc.nat(), { maxLength: 20 }),
      (messages, offsets) => {
        const stream = Buffer.concat(messages.map((m, index) => sockperfMessage(index, m.flags, m.length)));
        const expected = Buffer.concat(
          messages.map((m, index) => sockperfMessage(index, m.flags & ~1, m.length)),
        );
        const reflector = new SockperfReflector();
        const points = [...new Set(offsets.map((offset) => offset % stream.length))].sort((a, b) => a - b);
        let start = 0;
        for (const point of [...points, stream.length]) {
          reflector.reflect(stream.subarray(start, point));
          start = point;
        }
        assert.deepEqual(stream, expected);
      },
    ),
  );
});

test('sluice echo: --help, usage errors, and a TCP server that answers until SIGTERM', async () => {
  const help = spawn(process.execPath, [bin, 'echo', '--help']);
  let helpText = '';
  help.stdout.on('data', (chunk: Buffer) => {
    helpText += chunk.toString();
  });
  assert.equal(await new Promise((resolve) => help.on('close', resolve)), 0);
  assert.match(helpText, /sluice echo \(--tcp \| --udp\)/);

  const wrong = spawn(process.execPath, [bin, 'echo', '--tcp', '--udp']);
  let wrongText = '';
  wrong.stderr.on('data', (chunk: Buffer) => {
    wrongText += chunk.toString();
  });
  assert.equal(await new Promise((resolve) => wrong.on('close', resolve)), 2);
  assert.match(wrongText, /exactly one of --tcp and --udp \(see sluice echo --help\) \[SLUICE_ERR_USAGE\]/);

  const server = spawn(process.execPath, [bin, 'echo', '--tcp', '--port', '0', '--sockperf']);
  const line = await new Promise<string>((resolve) => {
    server.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString()));
  });
  const match = /^listening tcp 127\.0\.0\.1:(\d+)/.exec(line);
  assert.ok(match, line);
  const socket = net.connect({ port: Number(match[1]), host: '127.0.0.1' });
  const message = sockperfMessage(1, 3, 64);
  const echoed = receive(socket, 64);
  socket.write(message);
  assert.equal((await echoed).readUInt16BE(8), 2);
  socket.destroy();
  server.kill('SIGTERM');
  assert.equal(await new Promise((resolve) => server.on('close', resolve)), 0);
});
