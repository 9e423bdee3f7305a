/**
 * The `zip` cases, each run in a child process by `zip.ts`: build a store-only ZIP of the audiobook
 * directory and send it to a counting sink (a consumer that takes every chunk at once), so what is
 * measured is the archiver itself: reading, CRC-32, headers, stream plumbing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZipArchive } from 'archiver';
import { makeZip } from 'client-zip';
import { CrcCache, planZip, zipDirectory } from 'sluice/zip';
import yazl from 'yazl';

export interface ZipCaseArgs {
  variant: string;
  /** The audiobook directory: flat, `track-NN.mp3` files. */
  dir: string;
  /** The CRC cache file sluice uses (warm: filled by the parent; cold: absent). */
  cacheFile: string;
}

export interface ZipCaseResult {
  ms: number;
  mbPerS: number;
  cpuMs: number;
  /** Bytes the sink received (the archive; for raw-read, the files). */
  bytes: number;
}

interface Track {
  name: string;
  file: string;
  size: number;
  mtime: Date;
}

function tracks(dir: string): Track[] {
  return fs
    .readdirSync(dir)
    .sort()
    .map((name) => {
      const file = path.join(dir, name);
      const stats = fs.statSync(file);
      return { name, file, size: stats.size, mtime: stats.mtime };
    });
}

/** A Writable that counts and drops what it gets, asking for more at once. */
function countingSink(): { sink: Writable; bytes: () => number } {
  let bytes = 0;
  const sink = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback();
    },
  });
  return { sink, bytes: () => bytes };
}

async function viaArchiver(dir: string): Promise<number> {
  const { sink, bytes } = countingSink();
  const archive = new ZipArchive({ store: true });
  const done = pipeline(archive, sink);
  for (const track of tracks(dir)) {
    archive.append(fs.createReadStream(track.file), { name: track.name, date: track.mtime });
  }
  await archive.finalize();
  await done;
  return bytes();
}

async function viaClientZip(dir: string): Promise<number> {
  const files = tracks(dir).map((track) => ({
    name: track.name,
    lastModified: track.mtime,
    size: track.size,
    input: fs.createReadStream(track.file),
  }));
  let bytes = 0;
  const reader = makeZip(files).getReader();
  for (let result = await reader.read(); !result.done; result = await reader.read())
    bytes += result.value.length;
  return bytes;
}

async function viaYazl(dir: string): Promise<number> {
  const { sink, bytes } = countingSink();
  const zip = new yazl.ZipFile();
  for (const track of tracks(dir)) {
    zip.addFile(track.file, track.name, { compress: false, mtime: track.mtime });
  }
  zip.end();
  await pipeline(zip.outputStream, sink);
  return bytes();
}

/** sluice: plan (CRCs from the cache or computed), then stream; each chunk consumed before the next pull. */
async function viaSluice(dir: string, cacheFile: string): Promise<number> {
  const cache = await CrcCache.open(cacheFile);
  const entries = await zipDirectory(dir, { crcCache: cache });
  await cache.close();
  const plan = planZip(entries);
  let bytes = 0;
  for await (const chunk of plan.stream()) bytes += chunk.length;
  if (bytes !== plan.size) throw new Error(`sluice streamed ${bytes} bytes of a ${plan.size}-byte plan`);
  return bytes;
}

/**
 * sluice with no CRC cached, as the download server does it (`src/http/zip-provider.ts`): the plan
 * from the directory listing alone (deferred CRCs), then the stream, which computes each file's
 * CRC on the CRC threads while the file before it streams, and stores them in the cache.
 */
async function viaSluiceCold(dir: string, cacheFile: string): Promise<number> {
  const cache = await CrcCache.open(cacheFile);
  try {
    const plan = planZip(await zipDirectory(dir, { crcCache: cache, deferCrcs: true }));
    let bytes = 0;
    for await (const chunk of plan.stream()) bytes += chunk.length;
    if (bytes !== plan.size) throw new Error(`sluice streamed ${bytes} bytes of a ${plan.size}-byte plan`);
    return bytes;
  } finally {
    await cache.close();
  }
}

/** The limit: the files' bytes read with readSync into one 1 MiB buffer, nothing else. */
function rawRead(dir: string): number {
  const buffer = Buffer.allocUnsafeSlow(1 << 20);
  let bytes = 0;
  for (const track of tracks(dir)) {
    const fd = fs.openSync(track.file, 'r');
    try {
      for (let read = fs.readSync(fd, buffer, 0, buffer.length, null); read > 0; ) {
        bytes += read;
        read = fs.readSync(fd, buffer, 0, buffer.length, null);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return bytes;
}

export async function runCase(args: ZipCaseArgs): Promise<ZipCaseResult> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let bytes: number;
  switch (args.variant) {
    case 'archiver':
      bytes = await viaArchiver(args.dir);
      break;
    case 'client-zip':
      bytes = await viaClientZip(args.dir);
      break;
    case 'yazl':
      bytes = await viaYazl(args.dir);
      break;
    case 'sluice-cold':
      bytes = await viaSluiceCold(args.dir, args.cacheFile);
      break;
    case 'sluice-warm':
      bytes = await viaSluice(args.dir, args.cacheFile);
      break;
    case 'raw-read':
      bytes = rawRead(args.dir);
      break;
    default:
      throw new Error(`unknown zip variant ${args.variant}`);
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { ms, mbPerS: bytes / 1e6 / (ms / 1000), cpuMs: (cpu.user + cpu.system) / 1000, bytes };
}
