/**
 * Making a {@link GuestContext}: a QuickJS runtime on a module and memory of its own (wasm.ts) with
 * the stack limit, the host bridge and module loader (host-bridge.ts), the prelude (guest/*.js),
 * and then the user's code, whose top level runs under the per-call CPU limit. Code that does not
 * parse, throws at top level or defines no function for its kind is a `COMPILE_ERROR`.
 */
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  RELEASE_SYNC,
} from 'quickjs-emscripten';
import { entryReadsProfiles } from '../entry-inputs.js';
import { PRELUDE_SOURCE } from '../guest/prelude.js';
import type { CodeRef, SandboxLimits } from '../types.js';
import { GuestCodeError } from './failures.js';
import { GuestContext, safeDispose } from './guest-context.js';
import { installModuleLoader, type ModuleProvider, newBridge } from './host-bridge.js';
import { now } from './meter.js';
import { startFetch } from './send-call.js';
import { checkBjsonOnce } from './transform-call.js';
import { contextMemory, type WasmMemory, wasmModule } from './wasm.js';

export interface CreateInput {
  key: string;
  kind: CodeRef['kind'];
  code: string;
  limits: SandboxLimits;
  modules: ModuleProvider;
  /** The call whose code the top level runs for (reported while it runs). */
  callId?: number;
}

/**
 * Creates a context and evaluates the user code in it (its top level runs, under the CPU limit).
 * Rejects with {@link GuestCodeError} (`COMPILE_ERROR`) when the code does not parse, throws at
 * top level, or does not define the function for its kind.
 */
export async function createGuestContext(input: CreateInput): Promise<GuestContext> {
  const { limits } = input;
  const memory = contextMemory(limits.memoryBytes);
  const module = await newQuickJSWASMModuleFromVariant(
    newVariant(RELEASE_SYNC, { wasmModule: (await wasmModule()) as never, wasmMemory: memory as never }),
  );
  const runtime = module.newRuntime();
  runtime.setMaxStackSize(limits.stackBytes);
  // The byte count is wrong in emscripten builds (see docs/sandbox.md); the WASM memory is the real
  // cap. Keep QuickJS's own limit off so it does not fail early on miscounted allocations.
  runtime.setMemoryLimit(-1);
  installModuleLoader(runtime, input.modules);
  const ctx = runtime.newContext();
  let guest: GuestContext | undefined;
  try {
    guest = withPrelude(input, memory, runtime, ctx);
    evaluateUserCode(guest, input);
    return guest;
  } catch (err) {
    if (guest) guest.dispose();
    else
      safeDispose(
        () => ctx.dispose(),
        () => runtime.dispose(),
      );
    throw err;
  }
}

/** The context with the prelude evaluated: the harness and its state, the interrupt handler. */
function withPrelude(
  input: CreateInput,
  memory: WasmMemory,
  runtime: QuickJSRuntime,
  ctx: QuickJSContext,
): GuestContext {
  let guest: GuestContext | undefined;
  const bridge = newBridge(ctx, input.modules, (requestJson) => {
    if (!guest) throw new Error('fetch is not available here');
    return startFetch(guest, requestJson);
  });
  const preludeFn = ctx.unwrapResult(ctx.evalCode(PRELUDE_SOURCE, 'prelude.js'));
  const kindH = ctx.newString(input.kind);
  const namesH = ctx.newString(JSON.stringify(input.modules.names()));
  const harnessResult = ctx.callFunction(preludeFn, ctx.undefined, bridge, kindH, namesH);
  preludeFn.dispose();
  kindH.dispose();
  namesH.dispose();
  bridge.dispose();
  const harness = ctx.unwrapResult(harnessResult);
  const state = ctx.getProp(harness, 'state');
  guest = new GuestContext(input.key, input.kind, memory, runtime, ctx, harness, state);
  guest.callId = input.callId ?? 0;
  checkBjsonOnce(guest);
  const self = guest;
  runtime.setInterruptHandler(() => self.shouldInterrupt());
  return guest;
}

/**
 * Evaluates the user's code (script or module) and finds its entry function, all under the limit:
 * finding the entry and reading its text can run user code too (a getter for the entry, a proxy's
 * trap for its `name`).
 */
function evaluateUserCode(guest: GuestContext, input: CreateInput): void {
  guest.deadline = { mode: 'wall', at: now() + input.limits.transformCpuMs };
  try {
    evaluateAndFindEntry(guest, input);
  } finally {
    guest.deadline = { mode: 'none' };
  }
}

function evaluateAndFindEntry(guest: GuestContext, input: CreateInput): void {
  const { ctx, runtime } = guest;
  const name = input.kind;
  const isModule = /^\s*(import\s*[\w{*'"]|export\s)/m.test(input.code);
  const source = `${input.code}\n;try{globalThis.__openpipes_entry=${name}}catch(e){}`;
  const evaluated = guest.guest(() =>
    ctx.evalCode(source, guest.filename, isModule ? { type: 'module' } : { type: 'global' }),
  );
  if (evaluated.error) {
    const failure = guest.failureFromHandle(evaluated.error, 'COMPILE_ERROR');
    evaluated.error.dispose();
    throw new GuestCodeError(failure);
  }
  let namespace: QuickJSHandle | undefined = evaluated.value;
  if (isModule) {
    guest.guest(() => runtime.executePendingJobs());
    const state = ctx.getPromiseState(namespace);
    if (state.type === 'rejected') {
      const failure = guest.failureFromHandle(state.error, 'COMPILE_ERROR');
      state.error.dispose();
      namespace.dispose();
      throw new GuestCodeError(failure);
    }
    if (state.type === 'fulfilled') {
      if (!state.notAPromise) {
        namespace.dispose();
        namespace = state.value;
      }
    }
  }
  let entry: QuickJSHandle | undefined;
  if (isModule && namespace && ctx.typeof(namespace) === 'object') {
    for (const key of [name, 'default']) {
      const h = ctx.getProp(namespace, key);
      if (ctx.typeof(h) === 'function') {
        entry = h;
        break;
      }
      h.dispose();
    }
  }
  namespace?.dispose();
  if (!entry) {
    const entryGetter = ctx.getProp(guest.harness, 'entry');
    const nameH = ctx.newString(name);
    const found = guest.guest(() => ctx.callFunction(entryGetter, guest.harness, nameH));
    entryGetter.dispose();
    nameH.dispose();
    if (found.error) throw new GuestCodeError(consumeFailure(guest, found.error));
    if (ctx.typeof(found.value) === 'function') entry = found.value;
    else found.value.dispose();
  }
  if (!entry) {
    throw new GuestCodeError({
      code: 'COMPILE_ERROR',
      message: `the code does not define a function named ${name} (write \`function ${name}(...) { ... }\`)`,
    });
  }
  guest.entryFn = entry;
  if (name === 'transform') guest.profilesUnread = !entryReadsProfiles(entrySource(guest, entry));
}

/** The entry function's source text, read in the guest with the prelude's own toString. */
function entrySource(guest: GuestContext, entry: QuickJSHandle): string {
  const { ctx } = guest;
  const sourceOf = ctx.getProp(guest.harness, 'source');
  const result = guest.guest(() => ctx.callFunction(sourceOf, guest.harness, entry));
  sourceOf.dispose();
  if (result.error) {
    // harness.source catches what user code throws: this is the limit stopping it.
    throw new GuestCodeError(consumeFailure(guest, result.error));
  }
  const text = ctx.typeof(result.value) === 'string' ? ctx.getString(result.value) : '';
  result.value.dispose();
  return text;
}

function consumeFailure(guest: GuestContext, error: QuickJSHandle) {
  const failure = guest.failureFromHandle(error, 'COMPILE_ERROR');
  error.dispose();
  return failure;
}
