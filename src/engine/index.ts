export * from './backends';
export * from './model';
export * from './graph';
export * from './mcdropout';
export * from './region';
