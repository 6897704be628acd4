/** jupyterlab-uga: the extension's plugins (each in src/plugins/). */
import { analysisPlugin } from './plugins/analysis';
import { editorPlugin } from './plugins/editor';
import { enginePlugin } from './plugins/engine';
import { slidePlugin } from './plugins/slide';
import { workspacePlugin } from './plugins/workspace';

export default [enginePlugin, slidePlugin, analysisPlugin, editorPlugin, workspacePlugin];
