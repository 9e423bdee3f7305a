/**
 * The callback `fs` API wrapped in the thinnest promises: `fs.promises.FileHandle` costs more per
 * call (a FileHandle object, its own bookkeeping), and the reader issues one call per window.
 */
import fs from 'node:fs';

export function open(path: string, flags: string | number = 'r'): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.open(path, flags, (error, fd) => (error ? reject(error) : resolve(fd)));
  });
}

export function fstat(fd: number): Promise<fs.Stats> {
  return new Promise((resolve, reject) => {
    fs.fstat(fd, (error, stats) => (error ? reject(error) : resolve(stats)));
  });
}

/** fstat with nanosecond times and 64-bit numbers (`BigIntStats`). */
export function fstatBigInt(fd: number): Promise<fs.BigIntStats> {
  return new Promise((resolve, reject) => {
    fs.fstat(fd, { bigint: true }, (error, stats) => (error ? reject(error) : resolve(stats)));
  });
}

export function close(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.close(fd, (error) => (error ? reject(error) : resolve()));
  });
}

/** One positional `read(2)` on the threadpool; resolves to the bytes read (0 at end of file). */
export function read(
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buffer, offset, length, position, (error, bytesRead) =>
      error ? reject(error) : resolve(bytesRead),
    );
  });
}
