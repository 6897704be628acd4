import { ABCWidgetFactory, DocumentRegistry, DocumentWidget, TextModelFactory } from '@jupyterlab/docregistry';
import { Contents, ServerConnection } from '@jupyterlab/services';
import { SlidePanel } from './SlidePanel';
import { DEFAULT_SETTINGS } from '../settings';
import { IEngineService, ISlideSettings, MODEL_FACTORY_NAME } from '../tokens';

/**
 * A model factory that never loads file content: a slide can be many
 * gigabytes, so the document context only checks the file exists and the
 * panel reads pixels itself with range requests.
 */
export class SlideModelFactory extends TextModelFactory {
  get name(): string {
    return MODEL_FACTORY_NAME;
  }
  get contentType(): Contents.ContentType {
    return 'file';
  }
  get fileFormat(): Contents.FileFormat {
    return null;
  }
}

export class SlideDocument extends DocumentWidget<SlidePanel> {}

/** Creates slide panels; settings changes reach every open panel. */
export class SlideWidgetFactory extends ABCWidgetFactory<SlideDocument> {
  constructor(options: SlideWidgetFactory.IOptions) {
    super(options);
    this._serverSettings = options.serverSettings;
    this._engines = options.engines;
  }

  settings: ISlideSettings = { ...DEFAULT_SETTINGS };

  protected createNewWidget(context: DocumentRegistry.Context): SlideDocument {
    const content = new SlidePanel({
      context,
      engines: this._engines,
      settings: this.settings,
      serverSettings: this._serverSettings
    });
    const widget = new SlideDocument({ content, context });
    widget.title.iconClass = 'jp-uga-SlideIcon';
    return widget;
  }

  private _serverSettings?: ServerConnection.ISettings;
  private _engines: IEngineService;
}

export namespace SlideWidgetFactory {
  export interface IOptions extends DocumentRegistry.IWidgetFactoryOptions<SlideDocument> {
    engines: IEngineService;
    serverSettings?: ServerConnection.ISettings;
  }
}
