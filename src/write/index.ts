export {
  BatchWriter,
  type BatchWriterOptions,
  type BatchWriterStats,
  type FlushScheduling,
  type OpenOptions,
} from './batch-writer.js';
export { createSyncFdSink, createThreadpoolFdSink, type FdSinkOptions } from './fd-sink.js';
export type { SinkOptions, WriteTarget } from './open.js';
export type { AsyncWriteSink, SyncWriteSink, WriteSink } from './sink.js';
export { createStreamSink, type StreamSinkOptions } from './stream-sink.js';
