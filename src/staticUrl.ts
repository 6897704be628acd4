import { PageConfig, URLExt } from '@jupyterlab/coreutils';

/** Where the prebuilt extension serves its static files (default model, wasm binaries). */
export function extensionStaticUrl(...parts: string[]): string {
  const base = PageConfig.getOption('fullLabextensionsUrl') || URLExt.join(PageConfig.getBaseUrl(), 'lab/extensions');
  return URLExt.join(base, 'jupyterlab-uga', 'static', ...parts);
}
