/**
 * Where the `user_data` that Meta's, Snapchat's and Pinterest's Conversions APIs share puts each
 * identifier. All three default transforms fill it with the same guest snippet (`metaUserData`,
 * src/source/meta-user-data.js), so the paths are declared once here and each template adds only
 * its own click and browser ids after them.
 */
import type { TemplateIdentifier } from './define-template.js';

/**
 * Identifier -> its path in an output event's `event_payload`, for `identifierPaths`. Spread it
 * first: the template's `identifiers` follow the keys' order.
 *
 * @example
 * ```ts
 * defineTemplate({ ...spec, identifierPaths: { ...metaUserDataPaths, fbp: ['user_data.fbp'] } });
 * ```
 */
export const metaUserDataPaths = {
  email: ['user_data.em'],
  phone: ['user_data.ph'],
  first_name: ['user_data.fn'],
  last_name: ['user_data.ln'],
  city: ['user_data.ct'],
  state: ['user_data.st'],
  zip: ['user_data.zp'],
  country: ['user_data.country'],
  gender: ['user_data.ge'],
  date_of_birth: ['user_data.db'],
  external_id: ['user_data.external_id'],
  ip: ['user_data.client_ip_address'],
  user_agent: ['user_data.client_user_agent'],
} satisfies Partial<Record<TemplateIdentifier, string[]>>;
