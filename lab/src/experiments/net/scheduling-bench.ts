/**
 * nextTick vs setImmediate as sluice/net's flush point, in one process (no lab lock needed):
 *
 *   node lab/dist/src/experiments/net/scheduling-bench.js [requests] [rounds]
 *
 * Sequential 64-byte request/replies over loopback TCP: plain `net` echo (no framing), then
 * FramedConnection + createFrameServer with `scheduling: 'tick'` and `'immediate'`. Prints wall
 * time and CPU time (client and server together) per round trip. docs/net.md quotes its output.
 */
import net from 'node:net';
import { createFrameServer, FramedConnection } from 'sluice/net';

const message = Buffer.alloc(64, 1);

async function plain(requests: number): Promise<{ wallUs: number; cpuUs: number }> {
  const server = net.createServer({ noDelay: true }, (socket) =>
    socket.on('data', (chunk) => socket.write(chunk)),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = net.connect({
    port: (server.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    noDelay: true,
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let onReply: () => void = () => {};
  let pending = 0;
  socket.on('data', (chunk: Buffer) => {
    pending += chunk.length;
    while (pending >= 64) {
      pending -= 64;
      onReply();
    }
  });
  const measured = await measure(
    requests,
    () =>
      new Promise<void>((resolve) => {
        onReply = resolve;
        socket.write(message);
      }),
  );
  socket.destroy();
  server.close();
  return measured;
}

async function framed(
  requests: number,
  scheduling: 'tick' | 'immediate',
): Promise<{ wallUs: number; cpuUs: number }> {
  const server = createFrameServer((frame) => frame, { scheduling });
  const { port } = await server.listen(0);
  const connection = await FramedConnection.connect({ port, host: '127.0.0.1', scheduling });
  const measured = await measure(requests, () => connection.request(message));
  connection.destroy();
  await server.close();
  return measured;
}

async function measure(
  requests: number,
  ping: () => Promise<unknown>,
): Promise<{ wallUs: number; cpuUs: number }> {
  for (let index = 0; index < 2000; index++) await ping();
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (let index = 0; index < requests; index++) await ping();
  const used = process.cpuUsage(cpu);
  return {
    wallUs: Number(process.hrtime.bigint() - started) / 1000 / requests,
    cpuUs: (used.user + used.system) / requests,
  };
}

const requests = Number(process.argv[2] ?? 50_000);
const rounds = Number(process.argv[3] ?? 3);
const show = (name: string, result: { wallUs: number; cpuUs: number }): void => {
  process.stdout.write(
    `${name.padEnd(22)} RTT ${result.wallUs.toFixed(2)} us   CPU ${result.cpuUs.toFixed(2)} us\n`,
  );
};
for (let round = 1; round <= rounds; round++) {
  process.stdout.write(`round ${round}\n`);
  show('plain net', await plain(requests));
  show("sluice 'tick'", await framed(requests, 'tick'));
  show("sluice 'immediate'", await framed(requests, 'immediate'));
}
