export {
  type BufferBudgetOptions,
  createBufferBudget,
  DEFAULT_BUFFER_BUDGET,
  DEFAULT_WINDOW_SIZE,
} from './budget.js';
export { contentDisposition } from './content-disposition.js';
export { type ByteRange, parseRange, type RangeResult } from './range.js';
export { defaultSampleDir, ensureSampleLibrary } from './sample.js';
export { type SendOptions, type SendResult, sendFile, sendZip, type ZipPlanLike } from './send.js';
export { createDownloadServer, type DownloadServer, type DownloadServerOptions } from './server.js';
export type { ZipProvider } from './zip-provider.js';
