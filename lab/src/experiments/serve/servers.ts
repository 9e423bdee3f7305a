/** Starting and stopping the servers of the `serve` experiment, each in its own process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

export function startNodeServer(variant: string, root: string): Promise<RunningServer> {
  const child = spawn(process.execPath, [serverScript, variant, root], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /READY (\d+)/.exec(stdout);
      if (match) {
        resolve({
          port: Number(match[1]),
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
