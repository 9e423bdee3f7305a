import net from 'node:net';

/** A connected loopback TCP pair: `client` and the server's side of it, `peer`. */
export async function socketPair(): Promise<{ client: net.Socket; peer: net.Socket; close: () => void }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const peer = await accepted;
  server.close();
  return {
    client,
    peer,
    close: () => {
      client.destroy();
      peer.destroy();
    },
  };
}

/** Counts what reaches the socket's write path: `_write` (one buffer) and `_writev` (a batch). */
export function countSocketWrites(socket: net.Socket): { calls: number; buffers: number } {
  const counts = { calls: 0, buffers: 0 };
  const target = socket as unknown as {
    _write: (chunk: unknown, encoding: unknown, callback: unknown) => void;
    _writev: (chunks: unknown[], callback: unknown) => void;
  };
  const write = target._write.bind(socket);
  const writev = target._writev.bind(socket);
  target._write = (chunk, encoding, callback) => {
    counts.calls++;
    counts.buffers++;
    write(chunk, encoding, callback);
  };
  target._writev = (chunks, callback) => {
    counts.calls++;
    counts.buffers += chunks.length;
    writev(chunks, callback);
  };
  return counts;
}

/** Resolves once `socket` has received `bytes` bytes; returns them. */
export function receive(socket: net.Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= bytes) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
