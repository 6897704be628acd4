export * from './mask';
export * from './history';
export * from './model';
export * from './shortcuts';
export * from './correction';
export { CorrectionEditor } from './CorrectionEditor';
export type { CorrectionEditorOptions } from './CorrectionEditor';
export { addEditorCommands, confirmDiscard } from './commands';
export type { EditorCommandOptions } from './commands';
