/**
 * Raw echo servers, so that outside tools (sockperf, nc, ...) can measure Node's I/O path without
 * any framing: TCP echoes every byte back on the same connection (TCP_NODELAY on), UDP sends every
 * datagram back to its sender.
 *
 * sockperf's ping-pong client only accepts a reply whose "client" flag is cleared, so with
 * `sockperf: true` the servers clear that one bit of each message (everything else is echoed
 * unchanged). sockperf's message header (big-endian):
 *
 * ```
 * offset 0   u64 sequence number
 * offset 8   u16 flags: bit 0 client (set by the client, cleared in replies), bit 1 pong request
 * offset 10  u32 message length, header included
 * ```
 */
import dgram from 'node:dgram';
import net from 'node:net';

export interface EchoServer {
  readonly protocol: 'tcp' | 'udp';
  /** The bound address once listening. */
  address(): { address: string; port: number };
  close(): Promise<void>;
}

export interface EchoOptions {
  port?: number;
  host?: string;
  /** Clear sockperf's client flag in every message, so `sockperf ping-pong` accepts the replies. */
  sockperf?: boolean;
}

/** sockperf header: the byte holding the client flag, and where the message length lies. */
const SOCKPERF_FLAGS_LOW_BYTE = 9;
const SOCKPERF_LENGTH_OFFSET = 10;
const SOCKPERF_HEADER_BYTES = 14;
const SOCKPERF_CLIENT_FLAG = 0x01;

/**
 * Clears the client flag of each sockperf message in a TCP byte stream cut at any boundary.
 * Invariant: `#position` is the offset in the current message of the next byte seen; the message
 * length is known once `#position >= SOCKPERF_HEADER_BYTES`. A length shorter than the header means
 * the stream is not sockperf's: from then on it is echoed untouched.
 */
export class SockperfReflector {
  #position = 0;
  #length = 0;
  #passThrough = false;

  /** Rewrites `chunk` in place. */
  reflect(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !this.#passThrough) {
      if (this.#position < SOCKPERF_HEADER_BYTES) {
        const byte = chunk[offset]!;
        if (this.#position === SOCKPERF_FLAGS_LOW_BYTE) chunk[offset] = byte & ~SOCKPERF_CLIENT_FLAG;
        if (this.#position >= SOCKPERF_LENGTH_OFFSET) this.#length = this.#length * 256 + byte;
        offset++;
        this.#position++;
        if (this.#position === SOCKPERF_HEADER_BYTES && this.#length < SOCKPERF_HEADER_BYTES) {
          this.#passThrough = true;
        }
        continue;
      }
      const skip = Math.min(this.#length - this.#position, chunk.length - offset);
      offset += skip;
      this.#position += skip;
      if (this.#position === this.#length) {
        this.#position = 0;
        this.#length = 0;
      }
    }
  }
}

/** Starts a TCP echo server; resolves once it listens. */
export function createTcpEchoServer(options: EchoOptions = {}): Promise<EchoServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    const reflector = options.sockperf === true ? new SockperfReflector() : undefined;
    socket.on('data', (chunk: Buffer) => {
      reflector?.reflect(chunk);
      // Backpressure: a peer that sends without reading stops being read from.
      if (!socket.write(chunk)) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve({
        protocol: 'tcp',
        address: () => server.address() as net.AddressInfo,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Starts a UDP echo server; resolves once it is bound. */
export function createUdpEchoServer(options: EchoOptions = {}): Promise<EchoServer> {
  const host = options.host ?? '127.0.0.1';
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  const sockperf = options.sockperf === true;
  socket.on('message', (message, remote) => {
    if (sockperf && message.length >= SOCKPERF_HEADER_BYTES) {
      message[SOCKPERF_FLAGS_LOW_BYTE] = message[SOCKPERF_FLAGS_LOW_BYTE]! & ~SOCKPERF_CLIENT_FLAG;
    }
    socket.send(message, remote.port, remote.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port ?? 0, host, () => {
      socket.off('error', reject);
      // A datagram that cannot be echoed (the sender is gone) is dropped, as UDP does.
      socket.on('error', () => {});
      resolve({
        protocol: 'udp',
        address: () => socket.address(),
        close: () => new Promise((done) => socket.close(() => done())),
      });
    });
  });
}
