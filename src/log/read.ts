import { open } from 'node:fs/promises';

export interface Window {
  /** File offset of `bytes[0]`. */
  offset: number;
  /** Valid until the next iteration step. */
  bytes: Buffer;
}

/**
 * Reads `path` from `start` to its end in windows. The log's one read path: it becomes a thin wrapper
 * over `openReader` from sluice/file (`{ start, windowSize }`, windows valid until the next `next()`)
 * when that module lands; nothing else in the log reads segment files.
 */
export async function* readWindows(path: string, start: number, windowSize: number): AsyncGenerator<Window> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(windowSize);
    let offset = start;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, windowSize, offset);
      if (bytesRead === 0) return;
      yield { offset, bytes: buffer.subarray(0, bytesRead) };
      offset += bytesRead;
    }
  } finally {
    await handle.close();
  }
}
