/**
 * The reading peer of the `write` experiment's socket workload, a process of its own so the writer
 * child is measured alone (its CPU, its RSS, and its syscalls under strace). Listens on 127.0.0.1,
 * prints `PORT <n>` on stdout, and for each connection counts the bytes until the writer ends, then
 * replies with the count (8 bytes, big-endian) and closes. Exits when stdin closes (its parent went).
 */
import net from 'node:net';

const server = net.createServer((socket) => {
  let received = 0;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  socket.on('end', () => {
    const reply = Buffer.alloc(8);
    reply.writeBigUInt64BE(BigInt(received));
    socket.end(reply);
  });
  socket.on('error', () => socket.destroy());
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${(server.address() as net.AddressInfo).port}\n`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
