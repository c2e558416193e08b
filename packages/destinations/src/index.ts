/**
 * `@openpipes/destinations`: prebuilt destinations. Each template turns settings into an ordinary
 * destination (a readable `send()` source, batch size, the secrets it reads) plus a default
 * transform from the canonical event; users own and may edit both.
 */
export type { CanonicalContent, CanonicalEventPayload, CanonicalEventType } from './canonical.js';
export {
  type BaseTemplateSettings,
  type DefinedTemplate,
  defineTemplate,
  type TemplateIdentifier,
  type TemplateSecret,
  type TemplateSources,
  type TemplateSpec,
  type TemplateTestMode,
} from './define-template.js';
export {
  GA4_MAX_BATCH_SIZE,
  type Ga4Options,
  type Ga4Settings,
  ga4,
  ga4EventNames,
  ga4SettingsSchema,
  ga4Template,
} from './ga4/ga4.js';
export {
  GOOGLE_ADS_MAX_BATCH_SIZE,
  type GoogleAdsClickConversionsOptions,
  type GoogleAdsSettings,
  googleAdsClickConversions,
  googleAdsSettingsSchema,
  googleAdsTemplate,
} from './google-ads/google-ads.js';
export {
  DATA_MANAGER_MAX_BATCH_SIZE,
  type DataManagerSettings,
  dataManagerSettingsSchema,
  dataManagerTemplate,
  type GoogleDataManagerOptions,
  googleDataManager,
} from './google-data-manager/data-manager.js';
export {
  LINKEDIN_MAX_BATCH_SIZE,
  type LinkedInCapiOptions,
  type LinkedInCapiSettings,
  linkedinCapi,
  linkedinCapiSettingsSchema,
  linkedinCapiTemplate,
} from './linkedin/linkedin.js';
export {
  META_MAX_BATCH_SIZE,
  type MetaCapiOptions,
  type MetaCapiSettings,
  metaCapi,
  metaCapiSettingsSchema,
  metaCapiTemplate,
  metaEventNames,
} from './meta/meta.js';
export {
  MICROSOFT_UET_MAX_BATCH_SIZE,
  type MicrosoftUetCapiOptions,
  type MicrosoftUetCapiSettings,
  microsoftUetCapi,
  microsoftUetCapiSettingsSchema,
  microsoftUetCapiTemplate,
  microsoftUetEventNames,
} from './microsoft/microsoft.js';
export {
  PINTEREST_MAX_BATCH_SIZE,
  type PinterestCapiOptions,
  type PinterestCapiSettings,
  pinterestCapi,
  pinterestCapiSettingsSchema,
  pinterestCapiTemplate,
  pinterestEventNames,
} from './pinterest/pinterest.js';
export {
  REDDIT_MAX_BATCH_SIZE,
  type RedditCapiOptions,
  type RedditCapiSettings,
  redditCapi,
  redditCapiSettingsSchema,
  redditCapiTemplate,
  redditEventNames,
} from './reddit/reddit.js';
export type { CommonTemplateOptions } from './settings.js';
export {
  SNAPCHAT_MAX_BATCH_SIZE,
  type SnapchatCapiOptions,
  type SnapchatCapiSettings,
  snapchatCapi,
  snapchatCapiSettingsSchema,
  snapchatCapiTemplate,
  snapchatEventNames,
} from './snapchat/snapchat.js';
export { findTemplate, templates } from './templates.js';
export {
  TIKTOK_MAX_BATCH_SIZE,
  type TikTokEventsOptions,
  type TikTokEventsSettings,
  tiktokEventNames,
  tiktokEvents,
  tiktokEventsSettingsSchema,
  tiktokEventsTemplate,
} from './tiktok/tiktok.js';
export {
  type SignedWebhookOptions,
  signedWebhook,
  WEBHOOK_MAX_BATCH_SIZE,
  type WebhookSettings,
  webhookSettingsSchema,
  webhookTemplate,
} from './webhook/webhook.js';
export {
  X_MAX_BATCH_SIZE,
  type XCapiOptions,
  type XCapiSettings,
  xCapi,
  xCapiSettingsSchema,
  xCapiTemplate,
} from './x/x.js';
