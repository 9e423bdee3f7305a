export { BufferPool, type BufferPoolOptions, type BufferPoolStats, POISON_BYTE } from './pool.js';
