/**
 * Destination templates for the tests.
 */
import { type DestinationTemplate, PipesError } from '@openpipes/core';

/** A tiny template, to show the handler only needs the `DestinationTemplate` contract. */
export const echoTemplate: DestinationTemplate = {
  name: 'echo',
  description: 'Posts events to a URL (test template)',
  create(settings) {
    const url = (settings as { url?: unknown }).url;
    if (typeof url !== 'string') {
      throw new PipesError({
        code: 'VALIDATION_FAILED',
        message: 'settings.url: required',
        details: { issues: [{ path: 'settings.url', message: 'required' }] },
      });
    }
    return {
      destination: {
        name: 'echo-destination',
        send: `async function send({ events, secrets }) { const r = await fetch(${JSON.stringify(url)}, { method: 'POST', body: JSON.stringify(events) }); return r.json(); }`,
        template: { name: 'echo', settings: { url } },
      },
      transform: 'function transform({ events }) { return events; }',
      requiredSecrets: [{ key: 'ECHO_TOKEN', description: 'Token for the echo endpoint' }],
    };
  },
};
