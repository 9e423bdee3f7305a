/**
 * Test helpers for sluice/zip: temporary trees, collecting a stream (copying each chunk, since file
 * windows are only valid until the next pull), writing archives (sparse where the data is zeros), and
 * verification by three independent readers: Info-ZIP `unzip -t`, 7-Zip `7zz t` and Python's zipfile
 * (every entry's content compared byte for byte with its source).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
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
  let position = 0;
  try {
    for await (const chunk of plan.stream()) {
      const hole =
        options.sparse === true &&
        chunk.length <= zeros.length &&
        chunk.equals(zeros.subarray(0, chunk.length));
      if (!hole) {
        let written = 0;
        while (written < chunk.length) {
          const { bytesWritten } = await handle.write(
            chunk,
            written,
            chunk.length - written,
            position + written,
          );
          written += bytesWritten;
        }
      }
      position += chunk.length;
    }
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
  if (readers.includes('unzip')) {
    const { stdout } = await run('unzip', ['-tqq', file], limits).catch(
      (error: { stdout?: string; stderr?: string }) => {
        // Info-ZIP exits 1 with this warning for an archive without entries (the end record alone)
        if (entries.length === 0 && /zipfile is empty/.test(`${error.stdout}${error.stderr}`))
          return { stdout: '' };
        throw new Error(`unzip -t failed: ${error.stdout ?? ''}${error.stderr ?? ''}`.slice(0, 4000));
      },
    );
    assert.equal(stdout.trim(), '', `unzip -t reported: ${stdout.slice(0, 2000)}`);
  }
  if (readers.includes('7zz')) {
    const { stdout } = await run('7zz', ['t', '-bd', '-ba', file], limits).catch(
      (error: { stdout?: string; stderr?: string }) => {
        throw new Error(`7zz t failed: ${error.stdout ?? ''}${error.stderr ?? ''}`.slice(0, 4000));
      },
    );
    assert.doesNotMatch(stdout, /error|warning/i, `7zz t reported: ${stdout.slice(0, 2000)}`);
  }
  if (readers.includes('python')) {
    const manifest = entries.map((entry) => {
      const directory = entry.directory === true || entry.name.endsWith('/');
      return {
        name: directory && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name,
        directory,
        source: entry.source ?? null,
        size: entry.size ?? null,
        mode: entry.mode ?? (directory ? 0o755 : 0o644),
      };
    });
    const manifestFile = `${file}.manifest.json`;
    const handle = await open(manifestFile, 'w');
    await handle.writeFile(JSON.stringify(manifest));
    await handle.close();
    const { stdout } = await run(
      'python3',
      ['-c', PYTHON_CHECK, file, manifestFile, options.comment ?? ''],
      limits,
    ).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`python zipfile check failed: ${error.stderr ?? ''}`.slice(-4000));
    });
    assert.match(stdout, new RegExp(`^ok ${entries.length}$`, 'm'));
  }
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
