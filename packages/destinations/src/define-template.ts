/**
 * `defineTemplate()`: one definition per platform. A template is a settings schema, the secrets its
 * `send()` reads, the platform's batch limit, the identifiers it sends, how its test mode is turned
 * on, and a `build()` that turns parsed settings into the generated `send()` and default transform.
 * Everything every template repeated (parsing with field-named errors, the destination's shape,
 * `template.settings` without undefined fields, the camelCase factory) lives here once.
 */
import {
  type DestinationDefinition,
  type DestinationTemplate,
  type MatchIdentifier,
  PipesError,
  parseOrThrow,
} from '@openpipes/core';
import type { z } from 'zod';
import { defined, settingsJsonSchema } from './settings.js';

/** A secret the generated `send()` reads: bind one with this key to the destination. */
export interface TemplateSecret {
  key: string;
  /** Where the user finds the value (shown by the API and the console). */
  description: string;
}

/**
 * What a template's `send()` can put on the wire that identifies a person, for the match-quality
 * report: the identity table's kinds under their names there (docs/identifiers.md, core's
 * `IdentifierKind`: click and browser ids, first-party ids, email, phone), the other hashed personal
 * data the platforms take, and the last-seen attributes `ip` and `user_agent`: core's
 * `MatchIdentifier`, the closed list match quality counts.
 */
export type TemplateIdentifier = MatchIdentifier;

/**
 * How a template's test mode is switched on: `settings` merged over the normal settings make every
 * delivery a test (its records say `test_mode: true`). A platform without a test mode says why in
 * `unsupported`; the template then refuses `test_event_code` / `validate_only` with that reason.
 */
export type TemplateTestMode =
  | {
      settings: Record<string, unknown>;
      /** What the test mode does on the platform's side, shown by the API and the console. */
      description: string;
    }
  | { unsupported: string };

/** What `build()` makes from parsed settings. */
export interface TemplateSources {
  /** The generated `send()` source. */
  send: string;
  /** The generated default transform (canonical events -> the platform's shape). */
  transform: string;
  /** The created destination's description, e.g. `Meta Conversions API, pixel 123 (test events)`. */
  description: string;
}

/** The fields every template's settings have (from `destinationNameSchema` and a batch limit). */
export interface BaseTemplateSettings {
  name: string;
  max_batch_size: number;
}

/** What {@link defineTemplate} takes. */
export interface TemplateSpec<Schema extends z.ZodType<BaseTemplateSettings>> {
  /** Stable name used over the API (`{"template": name}`) and in config exports. */
  name: string;
  /** One line for the template list. */
  description: string;
  /** Settings as the admin API takes them (snake_case); errors name the field. */
  settings: Schema;
  /** The secrets `send()` reads; a function when they depend on the settings (webhook headers). */
  secrets: TemplateSecret[] | ((settings: z.output<Schema>) => TemplateSecret[]);
  /** The platform's limit of events per request (settings' `max_batch_size` may be lower). */
  maxBatchSize: number;
  /**
   * The identifiers the generated `send()` sends, for the match-quality report. Default: the keys
   * of `identifierPaths`, in their order.
   */
  identifiers?: TemplateIdentifier[];
  /**
   * Where the default transform puts each identifier in an output event's `event_payload`
   * (`user_data.em`, `userIdentifiers[].hashedEmail`): the created destination's `identifiers`,
   * from which match quality reads what left. Keys are among `identifiers`.
   */
  identifierPaths?: Partial<Record<TemplateIdentifier, string[]>>;
  testMode: TemplateTestMode;
  /** Parsed settings -> the generated sources. Pure: the same settings give the same text. */
  build(settings: z.output<Schema>): TemplateSources;
}

/** A template made by {@link defineTemplate}: a `DestinationTemplate` that also says what it is. */
export interface DefinedTemplate<Schema extends z.ZodType<BaseTemplateSettings>> extends DestinationTemplate {
  /** The zod schema of the settings (`settingsSchema` is its JSON Schema, for clients). */
  readonly settings: Schema;
  readonly secrets: TemplateSpec<Schema>['secrets'];
  readonly maxBatchSize: number;
  readonly identifiers: readonly TemplateIdentifier[];
  /** How the test mode is switched on (`testMode` is what the API shows of it). */
  readonly testModeSpec: TemplateTestMode;
  /**
   * The camelCase factory's body: top-level option keys become snake_case settings keys
   * (`pixelId` -> `pixel_id`; nested objects are left as they are), undefined ones are dropped.
   */
  fromOptions(options: object): DestinationDefinition;
}

/** `pixelId` -> `pixel_id`. */
function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/**
 * What a test send needs of a test mode (`DestinationTemplate.testMode`): the one setting that
 * switches it on, and whether the operator gives its value (a test event code) or it is `true`.
 */
function publicTestMode(mode: TemplateTestMode): DestinationTemplate['testMode'] {
  if (!('settings' in mode)) return undefined;
  const [setting, value] = Object.entries(mode.settings)[0] ?? [];
  if (setting === undefined) throw new Error('a template test mode names the setting that switches it on');
  return { setting, needsValue: typeof value !== 'boolean', description: mode.description };
}

/** Settings that switch some platform's test mode on, refused by templates without one. */
const testModeKeys = ['test_event_code', 'validate_only', 'test_mode'];

/**
 * Defines a destination template and its camelCase factory from one object.
 *
 * @example
 * ```ts
 * const acme = defineTemplate({
 *   name: 'acme-events',
 *   description: 'Acme Events API: bearer token, batches of up to 500',
 *   settings: z.object({
 *     name: destinationNameSchema('acme-events'),
 *     account_id: z.string().regex(/^\d+$/, 'account_id is the numeric account id'),
 *     test_event_code: testEventCodeSchema,
 *     base_url: baseUrlSchema('https://api.acme.example'),
 *     max_batch_size: z.number().int().min(1).max(500).default(500),
 *   }),
 *   secrets: [{ key: 'ACME_TOKEN', description: 'API token (Acme Ads > Settings > API)' }],
 *   maxBatchSize: 500,
 *   identifiers: ['email', 'phone', 'ip', 'user_agent'],
 *   testMode: { settings: { test_event_code: 'TEST1' } },
 *   build: (s) => ({
 *     send: acmeSendSource(s),
 *     transform: acmeTransformSource(s),
 *     description: `Acme Events API, account ${s.account_id}`,
 *   }),
 * });
 * export const acmeTemplate = acme; // for templates.ts
 * export const acmeEvents = (options: AcmeOptions) => acme.fromOptions(options);
 * ```
 */
export function defineTemplate<Schema extends z.ZodType<BaseTemplateSettings>>(
  spec: TemplateSpec<Schema>,
): DefinedTemplate<Schema> {
  const identifiers = spec.identifiers ?? (Object.keys(spec.identifierPaths ?? {}) as TemplateIdentifier[]);
  // A path declared for an identifier the template does not say it sends is a mistake in the template.
  for (const identifier of Object.keys(spec.identifierPaths ?? {})) {
    if (!identifiers.includes(identifier as TemplateIdentifier)) {
      throw new Error(`${spec.name}: identifierPaths names ${identifier}, which is not in identifiers`);
    }
  }
  let jsonSchema: Record<string, unknown> | undefined;
  const create = (settings: unknown): DestinationDefinition => {
    const { testMode } = spec;
    if ('unsupported' in testMode && settings !== null && typeof settings === 'object') {
      const asked = testModeKeys.filter((key) => (settings as Record<string, unknown>)[key] !== undefined);
      if (asked.length > 0) {
        throw new PipesError({
          code: 'VALIDATION_FAILED',
          message: `invalid ${spec.name} settings: ${asked[0]}: ${testMode.unsupported}`,
          details: { issues: asked.map((path) => ({ path, message: testMode.unsupported })) },
        });
      }
    }
    const s = parseOrThrow(
      spec.settings as unknown as z.ZodType<z.output<Schema>>,
      settings,
      `${spec.name} settings`,
    );
    const sources = spec.build(s);
    return {
      destination: {
        name: s.name,
        description: sources.description,
        send: sources.send,
        max_batch_size: s.max_batch_size,
        template: { name: spec.name, settings: defined({ ...(s as unknown as Record<string, unknown>) }) },
        ...(spec.identifierPaths ? { identifiers: spec.identifierPaths as Record<string, string[]> } : {}),
      },
      transform: sources.transform,
      requiredSecrets: (typeof spec.secrets === 'function' ? spec.secrets(s) : spec.secrets).map(
        (secret) => ({
          ...secret,
        }),
      ),
    };
  };
  return {
    name: spec.name,
    description: spec.description,
    create,
    get settingsSchema() {
      jsonSchema ??= settingsJsonSchema(spec.settings);
      return jsonSchema;
    },
    testMode: publicTestMode(spec.testMode),
    settings: spec.settings,
    secrets: spec.secrets,
    maxBatchSize: spec.maxBatchSize,
    identifiers,
    testModeSpec: spec.testMode,
    fromOptions: (options) =>
      create(
        defined(Object.fromEntries(Object.entries(options).map(([key, value]) => [snakeCase(key), value]))),
      ),
  };
}
