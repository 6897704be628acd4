export * from './backends';
export * from './model';
export * from './graph';
export * from './mcdropout';
export * from './region';
export * from './service';
export * from './browser';
export { WorkerEngine, WorkerRuntime } from './worker/WorkerEngine';
