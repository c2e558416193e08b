import type { DestinationTemplate } from '@openpipes/core';
import { ga4Template } from './ga4/ga4.js';
import { googleAdsTemplate } from './google-ads/google-ads.js';
import { dataManagerTemplate } from './google-data-manager/data-manager.js';
import { linkedinCapiTemplate } from './linkedin/linkedin.js';
import { metaCapiTemplate } from './meta/meta.js';
import { microsoftUetCapiTemplate } from './microsoft/microsoft.js';
import { pinterestCapiTemplate } from './pinterest/pinterest.js';
import { redditCapiTemplate } from './reddit/reddit.js';
import { snapchatCapiTemplate } from './snapchat/snapchat.js';
import { tiktokEventsTemplate } from './tiktok/tiktok.js';
import { webhookTemplate } from './webhook/webhook.js';
import { xCapiTemplate } from './x/x.js';

/**
 * Every prebuilt template, for the HTTP handler and the CLI.
 *
 * @example
 * ```ts
 * import { templates } from '@openpipes/destinations';
 * import { createHandler } from '@openpipes/http';
 *
 * const handler = createHandler(pipes, { templates });
 * // POST /api/event-destinations {"template": "meta-capi", "settings": {"pixel_id": "123456789012345"}}
 * ```
 */
export const templates: DestinationTemplate[] = [
  metaCapiTemplate,
  tiktokEventsTemplate,
  googleAdsTemplate,
  ga4Template,
  webhookTemplate,
  snapchatCapiTemplate,
  pinterestCapiTemplate,
  redditCapiTemplate,
  microsoftUetCapiTemplate,
  xCapiTemplate,
  linkedinCapiTemplate,
  dataManagerTemplate,
];

/**
 * The template with this name, or null.
 *
 * @example
 * ```ts
 * const definition = findTemplate('meta-capi')?.create({ pixel_id: '123456789012345' });
 * ```
 */
export function findTemplate(name: string): DestinationTemplate | null {
  return templates.find((template) => template.name === name) ?? null;
}
