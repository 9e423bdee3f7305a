/** Starting and stopping the servers of the `serve` experiment, each in its own process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childrenOf } from './procfs.js';

export const NGINX = '/usr/sbin/nginx';
const serverScript = fileURLToPath(new URL('./server.js', import.meta.url));

export interface RunningServer {
  port: number;
  /** The processes whose resources count (nginx: master and workers). */
  pids(): number[];
  stop(): Promise<void>;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * The `sluice` variant is the product as users run it, `sluice serve` (its server thread and memory
 * settings included): no CRC cache, so every plan of the book computes its CRCs as a first
 * download would, and a connection cap above the ladder's top rung.
 */
function sluiceServeArgs(root: string): string[] {
  const requireHere = createRequire(import.meta.url);
  const packageJson = requireHere.resolve('sluice/package.json');
  const { bin } = JSON.parse(readFileSync(packageJson, 'utf8')) as { bin: { sluice: string } };
  const cli = path.join(path.dirname(packageJson), bin.sluice);
  return [
    cli,
    'serve',
    root,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--max-connections',
    '20000',
    '--crc-cache',
    'off',
  ];
}

export function startNodeServer(variant: string, root: string): Promise<RunningServer> {
  const args = variant === 'sluice' ? sluiceServeArgs(root) : [serverScript, variant, root];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      // server.js prints `READY <port>`; `sluice serve` prints `... at http://127.0.0.1:<port>/`
      const match = /READY (\d+)|at http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout);
      if (match) {
        resolve({
          port: Number(match[1] ?? match[2]),
          pids: () => [child.pid!],
          stop: async () => {
            child.kill('SIGTERM');
            await waitExit(child, 5000);
          },
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`${variant} server exited (${code}): ${stderr}`)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}

/** nginx with its own temp prefix and config on 127.0.0.1: one worker (Node serves on one thread), sendfile on. */
export async function startNginx(root: string): Promise<RunningServer> {
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'sluice-lab-nginx-'));
  const port = await freePort();
  const config = `
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
daemon off;
master_process on;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 12000; multi_accept on; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 5;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${root};
  }
}
`;
  writeFileSync(path.join(prefix, 'nginx.conf'), config);
  const child = spawn(NGINX, ['-p', prefix, '-c', path.join(prefix, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const deadline = Date.now() + 5000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up && childrenOf(child.pid!).length > 0) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not start: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    pids: () => [child.pid!, ...childrenOf(child.pid!)],
    stop: async () => {
      // SIGQUIT: graceful shutdown; the workers exit after their connections
      child.kill('SIGQUIT');
      await waitExit(child, 5000);
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

export function nginxInstalled(): boolean {
  return existsSync(NGINX);
}
