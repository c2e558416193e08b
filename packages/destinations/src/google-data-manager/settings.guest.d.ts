/**
 * SETTINGS as the generated sources bake it (sources.ts): for the type checker only
 * (tsconfig.guest.json here). The transform gets a subset of these keys; send() gets those it uses.
 */
declare const SETTINGS: import('./sources.js').DataManagerSourceSettings;
