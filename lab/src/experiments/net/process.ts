/** Starting and stopping the server processes of the net experiments. */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const serversEntry = fileURLToPath(new URL('./servers.js', import.meta.url));

/** sluice/net's flush scheduling, chosen with `--scheduling=tick|immediate` in rtt and coalesce. */
export type Scheduling = 'tick' | 'immediate';

export function schedulingFlag(flags: Record<string, string | boolean>): Scheduling {
  const value = flags.scheduling;
  if (value === undefined) return 'tick';
  if (value === 'tick' || value === 'immediate') return value;
  throw new Error(`--scheduling must be tick or immediate; got ${String(value)}`);
}

export interface ServerProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

function stopper(child: ReturnType<typeof spawn>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve();
        return;
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/** Runs `servers.js KIND` in its own Node process; resolves once it listens. */
export function startNodeServer(kind: string, scheduling: Scheduling = 'tick'): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [serversEntry, kind, '0', scheduling], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.stdout.setEncoding('utf8').once('data', (line: string) => {
      const match = /^listening (\d+)/.exec(line);
      if (match === null) reject(new Error(`server ${kind} said: ${line}`));
      else resolve({ port: Number(match[1]), pid: child.pid!, stop: stopper(child) });
    });
    child.once('exit', (code) => reject(new Error(`server ${kind} exited (${code}): ${stderr.slice(-500)}`)));
  });
}

/** A port that was free a moment ago (for programs that cannot listen on port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `sockperf server` (UDP, or TCP with `tcp`); resolves once it accepts. */
export async function startSockperfServer(tcp: boolean): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(
    'sockperf',
    ['server', '-i', '127.0.0.1', '-p', String(port), ...(tcp ? ['--tcp'] : [])],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
    },
  );
  const stop = stopper(child);
  const deadline = Date.now() + 5000;
  // Ready when it prints nothing we can rely on; probe instead: TCP accepts, UDP is bound.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sockperf server exited with ${child.exitCode}`);
    const ready = tcp ? await canConnect(port) : await udpPortBound(port);
    if (ready) return { port, pid: child.pid!, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error('sockperf server did not start within 5 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function udpPortBound(port: number): Promise<boolean> {
  const { createSocket } = await import('node:dgram');
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(true);
    });
    socket.bind(port, '127.0.0.1', () => {
      socket.close();
      resolve(false);
    });
  });
}
