export { type CooperativeOptions, cooperative } from './cooperative.js';
export { type LagMonitor, type LagMonitorOptions, type LagSnapshot, monitorLag } from './lag.js';
export { type Limiter, type LimitRunOptions, limit, type Task } from './limit.js';
export { type MapBoundedOptions, type MapFn, mapBounded } from './map-bounded.js';
export { type SetTask, TaskSet, type TaskSetOptions, type TaskSetPolicy } from './task-set.js';
