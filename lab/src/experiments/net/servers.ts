/**
 * Server processes for the net experiments: `node servers.js KIND [PORT] [tick|immediate]` prints `listening PORT`
 * on stdout once ready and runs until SIGTERM. Clients run in another process (runInChild), as
 * DESIGN.md asks.
 *
 * Kinds:
 *  - `naive-tcp`: what a Node user writes first, `socket.on('data', (c) => socket.write(c))`.
 *  - `naive-udp`: `dgram` echo with `send(msg, port, address)` per datagram.
 *  - `sluice-frame`: `createFrameServer((frame) => frame)` from sluice/net (coalesced replies).
 *  - `sluice-echo-tcp`, `sluice-echo-udp`: sluice/net's raw echo servers (`sockperf: true`).
 *  - `naive-frame`: the write-per-message frame server for `coalesce`: it parses the same frames as
 *    sluice and answers each request with its own `socket.write`.
 *  - `flip-frame`: the least a server speaking sluice's frames can do, for paired-bench: it walks
 *    the length prefixes, turns each request's kind byte into a reply's in place and echoes the
 *    chunk (no frame objects, no copy).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { createFrameServer, createTcpEchoServer, createUdpEchoServer } from 'sluice/net';
import { KindFlipper, NaiveFrameParser, naiveReply } from './naive-frames.js';

async function start(
  kind: string,
  port: number,
  scheduling: 'tick' | 'immediate',
): Promise<{ port: number; close: () => Promise<void> | void }> {
  switch (kind) {
    case 'naive-tcp': {
      const server = net.createServer({ noDelay: true }, (socket) => {
        socket.on('data', (chunk: Buffer) => socket.write(chunk));
        socket.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      return { port: (server.address() as net.AddressInfo).port, close: () => void server.close() };
    }
    case 'naive-udp': {
      const socket = dgram.createSocket('udp4');
      socket.on('message', (message, remote) => socket.send(message, remote.port, remote.address));
      await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
      return { port: socket.address().port, close: () => void socket.close() };
    }
    case 'sluice-frame': {
      const server = createFrameServer((frame) => frame, { scheduling });
      const address = await server.listen(port, '127.0.0.1');
      return { port: address.port, close: () => server.close() };
    }
    case 'sluice-echo-tcp':
    case 'sluice-echo-udp': {
      const options = { port, host: '127.0.0.1', sockperf: true };
      const server =
        kind === 'sluice-echo-tcp' ? await createTcpEchoServer(options) : await createUdpEchoServer(options);
      return { port: server.address().port, close: () => server.close() };
    }
    case 'naive-frame': {
      const server = net.createServer({ noDelay: true }, (socket) => {
        const parser = new NaiveFrameParser((kind, id, body) => {
          if (kind === 1) naiveReply(socket, id, body);
        });
        socket.on('data', (chunk: Buffer) => parser.push(chunk));
        socket.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      return { port: (server.address() as net.AddressInfo).port, close: () => void server.close() };
    }
    case 'flip-frame': {
      const server = net.createServer({ noDelay: true }, (socket) => {
        const flipper = new KindFlipper();
        socket.on('data', (chunk: Buffer) => socket.write(flipper.flip(chunk)));
        socket.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      return { port: (server.address() as net.AddressInfo).port, close: () => void server.close() };
    }
    default:
      throw new Error(`unknown server kind "${kind}"`);
  }
}

const [kind, portText, scheduling] = process.argv.slice(2);
const server = await start(
  kind ?? '',
  Number(portText ?? 0),
  scheduling === 'immediate' ? 'immediate' : 'tick',
);
process.stdout.write(`listening ${server.port}\n`);
process.once('SIGTERM', () => {
  void Promise.resolve(server.close()).finally(() => process.exit(0));
});
