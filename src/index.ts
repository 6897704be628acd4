/** jupyterlab-uga: the extension's plugins (each in src/plugins/). */
import { analysisPlugin } from './plugins/analysis';
import { editorPlugin } from './plugins/editor';
import { enginePlugin } from './plugins/engine';
import { slidePlugin } from './plugins/slide';
import { trainingPlugin } from './plugins/training';
import { workspacePlugin } from './plugins/workspace';

export default [enginePlugin, slidePlugin, analysisPlugin, editorPlugin, workspacePlugin, trainingPlugin];
