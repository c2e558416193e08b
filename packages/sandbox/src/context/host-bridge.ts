/**
 * The host side of the bridge guest code calls through: three functions (`call` a host function
 * with JSON arguments, `module` source of a vetted module, `fetch`), handed to the prelude, which
 * keeps them in its private closure, and then unreachable from user code. Every value crosses as
 * a JSON string.
 */
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten';
import { hostFunctions } from '../host-functions.js';

/** Where vetted module sources come from (bundled at build time, read on first import). */
export interface ModuleProvider {
  /** The CommonJS source of a vetted module, or undefined when the name is not vetted. */
  source(name: string): string | undefined;
  /** ESM facade for `import x from 'name'`, or undefined when the name is not vetted. */
  esmFacade(name: string): string | undefined;
  names(): string[];
}

/** The message for an import of a module that is not vetted. */
export function moduleRefusal(name: string, modules: ModuleProvider): string {
  return `module "${name}" is not available in the sandbox (available: ${modules.names().join(', ')})`;
}

/** Lets `import x from 'name'` load the ESM facade of a vetted module, and refuses the rest. */
export function installModuleLoader(runtime: QuickJSRuntime, modules: ModuleProvider): void {
  runtime.setModuleLoader(
    (name) => {
      const facade = modules.esmFacade(name);
      if (facade === undefined) return { error: new Error(moduleRefusal(name, modules)) };
      return facade;
    },
    (_base, requested) => requested,
  );
}

/**
 * The bridge object for the prelude. `fetch` gets the request as JSON and returns the guest promise
 * for its response (send-call.ts); it throws where fetch is not available.
 */
export function newBridge(
  ctx: QuickJSContext,
  modules: ModuleProvider,
  fetch: (requestJson: string) => QuickJSHandle,
): QuickJSHandle {
  const bridge = ctx.newObject();
  const callFn = ctx.newFunction('call', (nameH, argsH) => {
    const name = ctx.getString(nameH);
    const fn = Object.hasOwn(hostFunctions, name) ? hostFunctions[name] : undefined;
    if (!fn) throw new Error(`unknown host function ${name}`);
    const args = JSON.parse(ctx.getString(argsH)) as unknown[];
    const result = fn(...args);
    return result === undefined ? ctx.undefined : ctx.newString(JSON.stringify(result));
  });
  const moduleFn = ctx.newFunction('module', (nameH) => {
    const name = ctx.getString(nameH);
    const src = modules.source(name);
    if (src === undefined) throw new Error(moduleRefusal(name, modules));
    return ctx.newString(src);
  });
  const fetchFn = ctx.newFunction('fetch', (reqH) => fetch(ctx.getString(reqH)));
  ctx.setProp(bridge, 'call', callFn);
  ctx.setProp(bridge, 'module', moduleFn);
  ctx.setProp(bridge, 'fetch', fetchFn);
  callFn.dispose();
  moduleFn.dispose();
  fetchFn.dispose();
  return bridge;
}
