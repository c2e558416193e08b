/**
 * Guest-side JavaScript evaluated in every fresh QuickJS context before user code. It installs the
 * globals people expect (console, TextEncoder/TextDecoder, URL, URLSearchParams, atob/btoa,
 * structuredClone, crypto.randomUUID, openpipes.*, require) and returns the harness the host drives:
 * the per-event transform loop and the send() runner.
 *
 * The code lives in the .js files beside this one, real JavaScript that Biome lints and
 * `tsconfig.guest.json` type-checks (JSDoc; the sandbox-only names are declared in guest.d.ts). The
 * build inlines their text (`?raw` imports) and this module wraps them into ONE function expression,
 * so all parts share one private closure: `host` (three host functions) stays in it and user code
 * never sees the raw bridge. The parts are scripts, not modules, and run in the order listed.
 *
 * Boundary design (why it looks like this): every host<->guest crossing costs ~10 us, so the whole
 * batch crosses once in each direction and the per-event loop runs inside the guest. Progress is kept
 * on a private `state` object the host's interrupt handler reads, so after an uncatchable interrupt
 * the host knows which event was running.
 */
import batch from './batch.js?raw';
import bridge from './bridge.js?raw';
import fetch from './fetch.js?raw';
import harness from './harness.js?raw';
import modules from './modules.js?raw';
import webGlobals from './web-globals.js?raw';

const parts = [bridge, webGlobals, modules, fetch, batch, harness];

/** The prelude: a function expression `(host, kind, moduleNames) => harness`, evaluated as a script. */
export const PRELUDE_SOURCE = `(function (host, kind, _moduleNames) {
'use strict';
${parts.join('\n')}
return harness;
})
`;
