/**
 * The panel's settings, with src/schema/plugin.json as their one source: the
 * defaults, the enums (backend list included) and the bounds are read from
 * the schema the Settings Editor shows, never written again here.
 */
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import schema from './schema/plugin.json';
import type { BackendChoice, ISlideSettings } from './tokens';

interface PropertySchema {
  type: 'integer' | 'number' | 'boolean' | 'string';
  default: unknown;
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
}

const properties = schema.properties as unknown as Record<keyof ISlideSettings, PropertySchema>;

/** The backend choices of the settings schema ('auto' first). */
export const BACKEND_CHOICES = properties.backend.enum as readonly BackendChoice[];

/** Schema defaults of every setting. */
export const DEFAULT_SETTINGS: ISlideSettings = Object.fromEntries(
  Object.entries(properties).map(([key, p]) => [key, p.default])
) as unknown as ISlideSettings;

/** The schema's enum of one setting (e.g. the ranking strategies), for command argument schemas. */
export function settingChoices(key: keyof ISlideSettings): readonly string[] {
  return properties[key].enum ?? [];
}

/**
 * Settings from a composite (the registry's, or a partial object): a value
 * that does not fit the schema (wrong type, outside the enum or the bounds)
 * falls back to the default instead of reaching the engine.
 */
export function readSettings(composite: ReadonlyPartialJSONObject | Partial<ISlideSettings> = {}): ISlideSettings {
  const out: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const [key, p] of Object.entries(properties)) {
    const v = (composite as Record<string, unknown>)[key];
    if (v === undefined || v === null) {
      continue;
    }
    let ok: boolean;
    switch (p.type) {
      case 'integer':
        ok = typeof v === 'number' && Number.isInteger(v);
        break;
      case 'number':
        ok = typeof v === 'number' && Number.isFinite(v);
        break;
      default:
        ok = typeof v === p.type;
    }
    if (ok && p.enum && !p.enum.includes(v as string)) {
      ok = false;
    }
    if (ok && typeof v === 'number' && ((p.minimum !== undefined && v < p.minimum) || (p.maximum !== undefined && v > p.maximum))) {
      ok = false;
    }
    if (ok) {
      out[key] = v;
    }
  }
  return out as unknown as ISlideSettings;
}
