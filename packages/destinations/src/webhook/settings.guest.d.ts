/**
 * SETTINGS as the generated sources bake it (sources.ts): for the type checker only
 * (tsconfig.guest.json here).
 */
declare const SETTINGS: import('./sources.js').WebhookSourceSettings;
