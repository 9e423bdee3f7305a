/**
 * The envelope every sluice/net frame payload starts with (inside the codec's length prefix):
 *
 * ```
 * offset 0  u8     kind: 0 message, 1 request, 2 reply, 3 error reply, 4 goaway
 * offset 1  u32 BE id: the request id for kinds 1-3, 0 otherwise
 * offset 5  body
 * ```
 *
 * An error reply's and a goaway's body is UTF-8 `CODE\nmessage`. A goaway is the last frame a side
 * sends before closing on a protocol error, so the other side learns why.
 */
export const KIND_MESSAGE = 0;
export const KIND_REQUEST = 1;
export const KIND_REPLY = 2;
export const KIND_ERROR = 3;
export const KIND_GOAWAY = 4;
export const ENVELOPE_BYTES = 5;
/** Length prefix plus envelope. */
export const HEADER_BYTES = 4 + ENVELOPE_BYTES;

export function encodeReason(code: string, message: string): Buffer {
  return Buffer.from(`${code}\n${message}`, 'utf8');
}

export function decodeReason(body: Buffer): { code: string; message: string } {
  const text = body.toString('utf8');
  const newline = text.indexOf('\n');
  if (newline === -1) return { code: 'ERROR', message: text };
  return { code: text.slice(0, newline) || 'ERROR', message: text.slice(newline + 1) };
}
