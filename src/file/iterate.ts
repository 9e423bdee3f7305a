/** The async iterator of a managed reader: `next()` until null; leaving the loop early closes it. */
export function iterateWindows(reader: {
  next(): Promise<Buffer | null>;
  close(): Promise<void>;
}): AsyncIterator<Buffer> {
  return {
    next: async () => {
      const window = await reader.next();
      return window === null ? { done: true, value: undefined } : { done: false, value: window };
    },
    return: async () => {
      await reader.close();
      return { done: true, value: undefined };
    },
  };
}
