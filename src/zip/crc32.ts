/**
 * CRC-32 (ISO-HDLC, the polynomial 0xEDB88320 reflected, as in ZIP: APPNOTE 4.4.7).
 *
 * The native addon's (`native/crc32-fold.c`: AVX-512 VPCLMULQDQ ~75 GB/s, SSE PCLMULQDQ ~16 GB/s
 * here, on cached data) when it is built and the CPU has a carry-less multiply; else `@node-rs/crc32`
 * (SIMD, ~16 GB/s here) when its platform package loads, else Node's `zlib.crc32` (~6 GiB/s, Node >=
 * 20.15 / 22.2). All continue a running CRC from `initial`.
 */
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { nativeCrc32, nativeCrc32Kind } from '../file/native.js';

type Crc32Function = (data: Uint8Array, initial?: number) => number;

function loadCrc32(): { crc32: Crc32Function; implementation: string } {
  const addonCrc32 = nativeCrc32;
  if (addonCrc32 !== undefined) {
    return {
      crc32: (data, initial = 0) => addonCrc32(data, initial >>> 0),
      implementation: `sluice-native (${nativeCrc32Kind})`,
    };
  }
  const require = createRequire(import.meta.url);
  try {
    const native = require('@node-rs/crc32') as { crc32: (data: Uint8Array, initial?: number) => number };
    return {
      crc32: (data, initial = 0) => native.crc32(data, initial) >>> 0,
      implementation: '@node-rs/crc32',
    };
  } catch {
    const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, initial?: number) => number }).crc32;
    if (zlibCrc32 === undefined) {
      throw new Error('no CRC-32 available: install @node-rs/crc32 or use Node >= 20.15');
    }
    return { crc32: (data, initial = 0) => zlibCrc32(data, initial) >>> 0, implementation: 'zlib.crc32' };
  }
}

const loaded = loadCrc32();

/** The CRC-32 of `data`, continuing from `initial` (the CRC of the bytes before it; 0 to start). */
export const crc32: Crc32Function = loaded.crc32;

/** Which implementation `crc32` uses: `'sluice-native (avx512-vpclmulqdq)'` (or `sse-pclmulqdq`), `'@node-rs/crc32'` or `'zlib.crc32'`. */
export const crc32Implementation: string = loaded.implementation;

/**
 * The CRC-32 of `length` zero bytes following bytes whose CRC is `initial`, in O(log length)
 * (zlib's crc32_combine method: appending n zeros is multiplication by x^(8n) modulo the
 * polynomial in GF(2), done by squaring 32x32 bit matrices). Used for sparse files, whose holes
 * read as zeros, without reading them.
 */
export function crc32OfZeros(length: number, initial = 0): number {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`length must be >= 0, got ${length}`);
  if (length === 0) return initial >>> 0;
  // The pre/post conditioning (xor 0xFFFFFFFF) of CRC-32 makes "CRC of zeros" an affine map; working
  // on the raw register: register' = M^n * register, where register = ~crc.
  const odd = new Uint32Array(32);
  const even = new Uint32Array(32);
  odd[0] = 0xedb88320; // operator for one zero bit
  for (let bit = 1, row = 1; bit < 32; bit++, row <<= 1) odd[bit] = row;
  square(even, odd); // two zero bits
  square(odd, even); // four zero bits
  let register = ~initial >>> 0;
  let remaining = length;
  do {
    square(even, odd); // first pass: one zero byte
    if (remaining % 2 === 1) register = multiply(even, register);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
    square(odd, even);
    if (remaining % 2 === 1) register = multiply(odd, register);
    remaining = Math.floor(remaining / 2);
  } while (remaining !== 0);
  return ~register >>> 0;
}

function multiply(matrix: Uint32Array, vector: number): number {
  let sum = 0;
  let rest = vector >>> 0;
  for (let index = 0; rest !== 0; index++, rest >>>= 1) {
    if (rest & 1) sum ^= matrix[index]!;
  }
  return sum >>> 0;
}

function square(target: Uint32Array, source: Uint32Array): void {
  for (let index = 0; index < 32; index++) target[index] = multiply(source, source[index]!);
}
