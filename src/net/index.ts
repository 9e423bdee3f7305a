/**
 * sluice/net: length-prefixed frames over TCP with write coalescing (every frame queued in one turn
 * leaves in one writev) and request multiplexing (32-bit ids, out-of-order replies, bounded in
 * flight, timeouts and aborts), a frame server, and raw TCP/UDP echo servers.
 */

export type { FlushScheduling } from '../write/batch-writer.js';
export {
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  FrameDecoder,
  type FrameDecoderOptions,
  type FrameRangeHandler,
} from './codec.js';
export {
  type ConnectionOptions,
  type ConnectionStats,
  type ConnectOptions,
  type FrameBody,
  FramedConnection,
  type RequestHandler,
  type RequestOptions,
} from './connection.js';
export { createTcpEchoServer, createUdpEchoServer, type EchoOptions, type EchoServer } from './echo.js';
export { createFrameServer, FrameServer, type FrameServerOptions } from './server.js';
