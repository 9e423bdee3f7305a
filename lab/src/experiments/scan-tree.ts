/**
 * The `scan` experiment's input: a deterministic tree shaped like a Linux kernel checkout (the
 * seed's ripgrep test ran on one). Linux 6.x has about 80,000 files in 5,500 directories, 1.3 GB,
 * half of the files under drivers/ and arch/; file sizes are roughly log-normal with a median near
 * 6 KiB and a long tail of generated headers of several MiB. We mimic that: top-level directories
 * weighted like the kernel's, directories grown at random depth, sizes log-normal (median 6 KiB,
 * sigma 1.35, capped at 4 MiB) scaled so the tree totals the requested bytes.
 *
 * The text is C-like tokens without the letter `q`, so the searched needle `zqzqzqzqzq` is absent
 * by construction (every variant must report 0 matches). Made once into the lab data dir (a
 * manifest beside the tree marks it complete) and reused by later runs and other checkouts.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dataDir, xorshift32 } from '../harness/data.js';

export const NEEDLE = 'zqzqzqzqzq';

export interface TreeSpec {
  files: number;
  /** Total bytes to aim at (the sizes are scaled to it). */
  bytes: number;
}

export interface TreeManifest extends TreeSpec {
  version: number;
  directories: number;
  /** Exact bytes written. */
  totalBytes: number;
  largestFile: number;
}

/** Bump when the generator changes: old trees are then regenerated, never mixed. */
const GENERATOR_VERSION = 1;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

/** Share of the files under each top-level directory (Linux 6.6, rounded). */
const TOP_LEVEL: ReadonlyArray<readonly [string, number]> = [
  ['drivers', 0.42],
  ['arch', 0.2],
  ['Documentation', 0.07],
  ['include', 0.07],
  ['tools', 0.06],
  ['sound', 0.035],
  ['fs', 0.03],
  ['net', 0.03],
  ['kernel', 0.008],
  ['lib', 0.008],
  ['scripts', 0.007],
  ['security', 0.005],
  ['crypto', 0.004],
  ['mm', 0.003],
  ['samples', 0.003],
  ['block', 0.002],
  ['init', 0.001],
  ['ipc', 0.001],
  ['virt', 0.001],
  ['usr', 0.001],
];

const NAME_PARTS = [
  'core',
  'phy',
  'pci',
  'usb',
  'net',
  'gpu',
  'dma',
  'irq',
  'clk',
  'mmc',
  'spi',
  'i2c',
  'power',
  'media',
  'video',
  'audio',
  'input',
  'hid',
  'scsi',
  'ata',
  'block',
  'char',
  'tty',
  'serial',
  'gpio',
  'pinctrl',
  'thermal',
  'hwmon',
  'iio',
  'rtc',
  'watchdog',
  'crypto',
  'firmware',
  'platform',
  'bus',
  'base',
  'mfd',
  'regulator',
  'reset',
  'soc',
  'mach',
  'boot',
  'dts',
  'kvm',
  'mm',
  'lib',
  'amd',
  'intel',
  'arm',
  'mips',
  'riscv',
  'x86',
  'bpf',
  'sched',
  'trace',
  'fs',
  'ext4',
  'btrfs',
  'xfs',
  'nfs',
  'ipv4',
  'ipv6',
  'wireless',
];
const EXTENSIONS: ReadonlyArray<readonly [string, number]> = [
  ['.c', 0.44],
  ['.h', 0.3],
  ['.dts', 0.04],
  ['.dtsi', 0.03],
  ['.rst', 0.05],
  ['.yaml', 0.04],
  ['.S', 0.02],
  ['.py', 0.01],
  ['.sh', 0.01],
  ['', 0.06], // Makefile, Kconfig
];
const TOKENS = [
  'static',
  'int',
  'struct',
  'void',
  'return',
  'if',
  'else',
  'for',
  'while',
  'unsigned',
  'long',
  'const',
  'char',
  'u32',
  'u64',
  'sizeof',
  'NULL',
  'err',
  'ret',
  'dev',
  'data',
  'priv',
  'reg',
  'val',
  'mask',
  'lock',
  'unlock',
  'spin_lock',
  'mutex',
  'kfree',
  'kmalloc',
  'GFP_KERNEL',
  'EINVAL',
  'ENOMEM',
  'goto',
  'out',
  'break',
  'case',
  'switch',
  'default',
  'define',
  'include',
  'linux',
  'module',
  'init',
  'exit',
  'pr_err',
  'dev_err',
  'offset',
  'buffer',
  'length',
  'count',
  'index',
  'entry',
  'list',
  'head',
  'next',
  'state',
  'flags',
  'write',
  'read',
  'open',
  'release',
  'probe',
  'remove',
  'driver',
  'device',
  'table',
  '{',
  '}',
  '(',
  ')',
  ';',
  '=',
  '==',
  '!=',
  '->',
  '&',
  '|',
  '+',
  '-',
  '*',
  '/',
  '<<',
  '>>',
  '0',
  '1',
  '0x10',
  '0xff',
  '/*',
  '*/',
  'the',
  'of',
  'and',
  'to',
  'is',
  'this',
  'be',
  'with',
  'by',
  'on',
  'from',
];

/** xorshift32, uniform in [0, 1). */
function makeRandom(seed: number): () => number {
  const next = xorshift32(seed >>> 0 || 0x9e3779b9);
  return () => next() / 2 ** 32;
}

function pick<T>(random: () => number, weighted: ReadonlyArray<readonly [T, number]>): T {
  const total = weighted.reduce((sum, [, weight]) => sum + weight, 0);
  let at = random() * total;
  for (const [value, weight] of weighted) {
    at -= weight;
    if (at < 0) return value;
  }
  return weighted[weighted.length - 1]![0];
}

/** 8 MiB of C-like text without `q`: files are slices of it (larger than the largest file). */
function makeCorpus(random: () => number): Buffer {
  const size = 2 * MAX_FILE_BYTES;
  const corpus = Buffer.allocUnsafe(size);
  let at = 0;
  let column = 0;
  while (at < size) {
    const token = TOKENS[Math.floor(random() * TOKENS.length)]!;
    const separator = column > 70 ? '\n\t' : ' ';
    column = column > 70 ? 8 : column + token.length + 1;
    at += corpus.write(token + separator, at, 'latin1');
  }
  if (corpus.includes('q')) throw new Error('the scan corpus must not contain the letter q');
  return corpus;
}

interface PlannedFile {
  directory: string;
  name: string;
  size: number;
  offset: number;
}

/** The tree's layout and sizes, a pure function of the spec. */
function planTree(spec: TreeSpec): { directories: string[]; files: PlannedFile[] } {
  const random = makeRandom(0x5ca7 ^ spec.files);
  const directoriesByTop = new Map<string, string[]>(TOP_LEVEL.map(([top]) => [top, [top]]));
  const directories = TOP_LEVEL.map(([top]) => top);
  const files: PlannedFile[] = [];
  // about one new directory per 13 files, as in the kernel (80,000 / 5,500 ~ 14)
  const newDirectoryChance = 1 / 13;
  let rawTotal = 0;
  for (let index = 0; index < spec.files; index++) {
    const top = pick(random, TOP_LEVEL);
    const candidates = directoriesByTop.get(top)!;
    let directory = candidates[Math.floor(random() * candidates.length)]!;
    if (random() < newDirectoryChance && directory.split('/').length < 7) {
      const part = NAME_PARTS[Math.floor(random() * NAME_PARTS.length)]!;
      directory = `${directory}/${part}${index.toString(36)}`;
      candidates.push(directory);
      directories.push(directory);
    }
    // log-normal: exp(mu + sigma * z), z standard normal by Box-Muller
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const size = Math.min(MAX_FILE_BYTES, Math.round(6144 * Math.exp(1.35 * z)));
    rawTotal += size;
    const extension = pick(random, EXTENSIONS);
    const base = NAME_PARTS[Math.floor(random() * NAME_PARTS.length)]!;
    const name =
      extension === ''
        ? random() < 0.5
          ? `Makefile.${index}`
          : `Kconfig.${index}`
        : `${base}_${index}${extension}`;
    files.push({ directory, name, size, offset: Math.floor(random() * MAX_FILE_BYTES) });
  }
  const scale = spec.bytes / rawTotal;
  for (const file of files) file.size = Math.min(MAX_FILE_BYTES, Math.round(file.size * scale));
  return { directories, files };
}

export function treePath(spec: TreeSpec): string {
  return path.join(dataDir(), `scan-tree-${spec.files}-${spec.bytes}-v${GENERATOR_VERSION}`);
}

function manifestPath(root: string): string {
  return `${root}.json`;
}

export function readManifest(root: string): TreeManifest | undefined {
  try {
    return JSON.parse(readFileSync(manifestPath(root), 'utf8')) as TreeManifest;
  } catch {
    return undefined;
  }
}

/**
 * Returns the tree for `spec`, generating it first when absent (into a temporary directory renamed
 * into place, so an interrupted run leaves nothing that looks complete).
 */
export function ensureTree(
  spec: TreeSpec,
  progress: (message: string) => void,
): { root: string; manifest: TreeManifest } {
  const root = treePath(spec);
  const existing = readManifest(root);
  if (existing !== undefined && existing.version === GENERATOR_VERSION && existsSync(root)) {
    return { root, manifest: existing };
  }
  const temporary = `${root}.partial-${process.pid}`;
  rmSync(temporary, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
  const { directories, files } = planTree(spec);
  progress(
    `generating the scan tree: ${spec.files} files, ~${Math.round(spec.bytes / 2 ** 20)} MiB (once) in ${root}`,
  );
  for (const directory of directories) mkdirSync(path.join(temporary, directory), { recursive: true });
  const corpus = makeCorpus(makeRandom(0xc0de));
  let written = 0;
  let largestFile = 0;
  const started = Date.now();
  for (let index = 0; index < files.length; index++) {
    const file = files[index]!;
    writeFileSync(
      path.join(temporary, file.directory, file.name),
      corpus.subarray(file.offset, file.offset + file.size),
    );
    written += file.size;
    largestFile = Math.max(largestFile, file.size);
    if ((index + 1) % 5000 === 0 || index + 1 === files.length) {
      const seconds = (Date.now() - started) / 1000;
      progress(
        `  ${index + 1}/${files.length} files, ${Math.round(written / 2 ** 20)} MiB written (${seconds.toFixed(1)} s)`,
      );
    }
  }
  renameSync(temporary, root);
  const manifest: TreeManifest = {
    ...spec,
    version: GENERATOR_VERSION,
    directories: directories.length,
    totalBytes: written,
    largestFile,
  };
  writeFileSync(manifestPath(root), `${JSON.stringify(manifest, null, 2)}\n`);
  return { root, manifest };
}
