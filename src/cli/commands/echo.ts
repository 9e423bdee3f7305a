import { parseArgs } from 'node:util';
import { UsageError } from '../../errors.js';
import { createTcpEchoServer, createUdpEchoServer, type EchoServer } from '../../net/index.js';
import type { Command, CommandIo } from '../command.js';

const usage = `Usage: sluice echo (--tcp | --udp) [--port N] [--host ADDR] [--sockperf]

Runs a raw echo server: TCP echoes every byte back on its connection (TCP_NODELAY on), UDP sends
every datagram back to its sender. No framing, so outside tools can measure Node's I/O path.
sockperf's ping-pong client wants its "client" flag cleared in replies: add --sockperf for that
(one bit of each message's header changes; everything else is echoed as received):

  sluice echo --udp --port 11111 --sockperf &
  sockperf ping-pong -i 127.0.0.1 -p 11111 -m 64 -t 5
  sluice echo --tcp --port 11112 --sockperf &
  sockperf ping-pong --tcp -i 127.0.0.1 -p 11112 -m 64 -t 5

Options:
  --tcp          echo over TCP
  --udp          echo over UDP
  --port N       port to listen on (default 7777; 0 picks a free one)
  --host ADDR    address to bind (default 127.0.0.1)
  --sockperf     clear sockperf's client flag in each message (for sockperf ping-pong)
  --help         show this help

Prints "listening tcp|udp ADDR:PORT" on stdout once ready; stops on SIGINT or SIGTERM.
`;

function parsePort(value: string | undefined): number {
  if (value === undefined) return 7777;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new UsageError(`--port must be an integer in [0, 65535]; got "${value}"`);
  return port;
}

async function run(argv: string[], io: CommandIo): Promise<number> {
  let values: { tcp?: boolean; udp?: boolean; port?: string; host?: string; sockperf?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        tcp: { type: 'boolean' },
        udp: { type: 'boolean' },
        port: { type: 'string' },
        host: { type: 'string' },
        sockperf: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (see sluice echo --help)`);
  }
  if (values.tcp === values.udp)
    throw new UsageError('give exactly one of --tcp and --udp (see sluice echo --help)');
  const port = parsePort(values.port);
  const host = values.host ?? '127.0.0.1';
  const options = { port, host, sockperf: values.sockperf === true };
  let server: EchoServer;
  try {
    server = values.tcp ? await createTcpEchoServer(options) : await createUdpEchoServer(options);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'ERROR';
    io.stderr.write(`sluice echo: cannot listen on ${host}:${port}: ${(error as Error).message} [${code}]\n`);
    return 1;
  }
  const address = server.address();
  io.stdout.write(`listening ${server.protocol} ${address.address}:${address.port}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  return 0;
}

export const echo: Command = {
  name: 'echo',
  summary: 'raw TCP or UDP echo server (for sockperf and other outside tools)',
  usage,
  run,
};
