/**
 * Test helpers for sluice/zip: temporary trees, collecting a stream (copying each chunk, since file
 * windows are only valid until the next pull), writing archives (sparse where the data is zeros), and
 * verification by three independent readers: Info-ZIP `unzip -t`, 7-Zip `7zz t` and Python's zipfile
 * (every entry's content compared byte for byte with its source).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ZipEntryInput, ZipPlan, ZipStreamOptions } from '../../src/zip/index.js';

const run = promisify(execFile);

export const codeOf = (code: string) => (error: unknown) =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;

export async function temporaryDirectory(
  label: string,
): Promise<{ dir: string; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `sluice-zip-${label}-`));
  return { dir, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

/** The whole stream (or a range) as one Buffer; every chunk is copied before the next pull. */
export async function collect(plan: ZipPlan, options?: ZipStreamOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of plan.stream(options)) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * Writes the archive to `file` with positional writes; with `sparse`, chunks of zeros become holes
 * (the file is truncated to its full length at the end), so a 4 GiB archive of a sparse file costs
 * no disk space.
 */
export async function writeArchive(
  plan: ZipPlan,
  file: string,
  options: { sparse?: boolean } = {},
): Promise<number> {
  const handle = await open(file, 'w');
  const zeros = Buffer.alloc(1 << 20);
  // small chunks are gathered into one write (the many-entries archive has ~100k of them)
  const gathered = Buffer.allocUnsafe(1 << 20);
  let gatheredBytes = 0;
  let position = 0;
  const writeAt = async (bytes: Buffer, at: number): Promise<void> => {
    for (let written = 0; written < bytes.length; ) {
      written += (await handle.write(bytes, written, bytes.length - written, at + written)).bytesWritten;
    }
  };
  const flush = async (): Promise<void> => {
    await writeAt(gathered.subarray(0, gatheredBytes), position - gatheredBytes);
    gatheredBytes = 0;
  };
  try {
    for await (const chunk of plan.stream()) {
      if (chunk.length < 64 * 1024 && gatheredBytes + chunk.length <= gathered.length) {
        chunk.copy(gathered, gatheredBytes);
        gatheredBytes += chunk.length;
        position += chunk.length;
        continue;
      }
      await flush();
      const hole =
        options.sparse === true &&
        chunk.length <= zeros.length &&
        chunk.equals(zeros.subarray(0, chunk.length));
      if (!hole) await writeAt(chunk, position);
      position += chunk.length;
    }
    await flush();
    await handle.truncate(position);
  } finally {
    await handle.close();
  }
  return position;
}

const PYTHON_CHECK = `
import json, sys, zipfile
archive, manifest_path = sys.argv[1], sys.argv[2]
with open(manifest_path) as f:
    manifest = json.load(f)
with zipfile.ZipFile(archive) as z:
    infos = z.infolist()
    names = [i.filename for i in infos]
    assert names == [m["name"] for m in manifest], ("names differ", names[:5], [m["name"] for m in manifest][:5])
    assert z.comment.decode("utf-8") == sys.argv[3], ("comment", z.comment)
    for info, expected in zip(infos, manifest):
        assert info.is_dir() == expected["directory"], ("is_dir", info.filename)
        assert (info.external_attr >> 16) & 0o7777 == expected["mode"], ("mode", info.filename, oct(info.external_attr >> 16))
        if expected["directory"]:
            continue
        assert info.file_size == expected["size"], ("size", info.filename, info.file_size)
        assert info.compress_type == zipfile.ZIP_STORED
        if expected["crcOnly"]:
            # zipfile checks the CRC-32 of the data it reads against the header's (BadZipFile if not)
            assert info.CRC == expected["crc32"], ("crc", info.filename)
            last = b""
            with z.open(info) as got:
                while True:
                    block = got.read(1 << 24)
                    if not block:
                        break
                    last = (last + block)[-65536:]
            with open(expected["source"], "rb") as want:
                want.seek(max(0, info.file_size - 65536))
                assert last == want.read(), ("last 64 KiB differ", info.filename)
            continue
        with z.open(info) as got, open(expected["source"], "rb") as want:
            while True:
                a = got.read(1 << 20)
                b = want.read(1 << 20)
                assert a == b, ("content differs", info.filename)
                if not a:
                    break
print("ok", len(infos))
`;

export interface VerifyOptions {
  comment?: string;
  /** Skip 7-Zip and unzip's full test (for archives too large to test three times). */
  readers?: ReadonlyArray<'unzip' | '7zz' | 'python'>;
  /** Let `unzip -t` test only these entries (all by default). */
  unzipOnly?: readonly string[];
  /**
   * For these entries Python reads all the data (zipfile checks it against the CRC-32 in the
   * header, which must equal the entry's) and compares the last 64 KiB with the source, instead of
   * comparing every byte with the source: for sparse files whose CRC is known from a formula.
   */
  crcOnly?: readonly string[];
}

/**
 * Checks the archive at `file` against the entries it was planned from, with every reader: `unzip -t`
 * and `7zz t` test every CRC; Python's zipfile compares names, folder flags, modes, sizes and every
 * byte of content with the source files.
 */
export async function verifyArchive(
  file: string,
  entries: readonly ZipEntryInput[],
  options: VerifyOptions = {},
): Promise<void> {
  const readers = options.readers ?? ['unzip', '7zz', 'python'];
  const limits = { maxBuffer: 64 << 20 };
  const failure =
    (reader: string) =>
    (error: { stdout?: string; stderr?: string }): never => {
      throw new Error(`${reader} failed: ${error.stdout ?? ''}${error.stderr ?? ''}`.slice(-4000));
    };
  const checks: Array<Promise<void>> = [];
  if (readers.includes('unzip')) {
    checks.push(
      run('unzip', ['-tqq', file, ...(options.unzipOnly ?? [])], limits)
        .catch((error: { stdout?: string; stderr?: string }) => {
          // Info-ZIP exits 1 with this warning for an archive without entries (the end record alone)
          if (entries.length === 0 && /zipfile is empty/.test(`${error.stdout}${error.stderr}`))
            return { stdout: '' };
          return failure('unzip -t')(error);
        })
        .then(({ stdout }) => assert.equal(stdout.trim(), '', `unzip -t reported: ${stdout.slice(0, 2000)}`)),
    );
  }
  if (readers.includes('7zz')) {
    checks.push(
      run('7zz', ['t', '-bd', '-ba', file], limits)
        .catch(failure('7zz t'))
        .then(({ stdout }) =>
          assert.doesNotMatch(stdout, /error|warning/i, `7zz t reported: ${stdout.slice(0, 2000)}`),
        ),
    );
  }
  if (readers.includes('python')) {
    const manifest = entries.map((entry) => {
      const directory = entry.directory === true || entry.name.endsWith('/');
      return {
        name: directory && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name,
        directory,
        source: entry.source ?? null,
        size: entry.size ?? null,
        // a DeferredCrc is checked by value once the stream has computed it
        crc32: typeof entry.crc32 === 'number' ? entry.crc32 : (entry.crc32?.value ?? null),
        crcOnly: options.crcOnly?.includes(entry.name) === true,
        mode: entry.mode ?? (directory ? 0o755 : 0o644),
      };
    });
    const manifestFile = `${file}.manifest.json`;
    await writeFile(manifestFile, JSON.stringify(manifest));
    checks.push(
      run('python3', ['-c', PYTHON_CHECK, file, manifestFile, options.comment ?? ''], limits)
        .catch(failure('python zipfile check'))
        .then(({ stdout }) => assert.match(stdout, new RegExp(`^ok ${entries.length}$`, 'm'))),
    );
  }
  await Promise.all(checks);
}
/** File descriptors this process has open now (Linux). */
export async function openFdCount(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

/** Descriptors pointing into `dir` (Linux), to tell our files from the test runner's. */
export async function openFilesUnder(dir: string): Promise<string[]> {
  const { readlink } = await import('node:fs/promises');
  const found: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    try {
      const target = await readlink(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) found.push(target);
    } catch {
      // closed meanwhile (the readdir's own descriptor)
    }
  }
  return found;
}
