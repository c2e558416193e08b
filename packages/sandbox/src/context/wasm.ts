/**
 * The QuickJS WebAssembly module: compiled once per worker; each context instantiates it with a
 * `WebAssembly.Memory` of its own whose maximum is the memory limit (`setMemoryLimit` does not cap
 * bytes in the emscripten builds, the WASM memory does: docs/sandbox.md).
 */

// The lib settings have no DOM types; this is the slice of the WebAssembly API used here.
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
  compile(bytes: Uint8Array): Promise<object>;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiledWasm: object | undefined;

/** The compiled QuickJS module (release, sync), compiled on first use. */
export async function wasmModule(): Promise<object> {
  if (!compiledWasm) {
    const { readFile } = await import('node:fs/promises');
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const path = require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
    compiledWasm = await wasm.compile(await readFile(path));
  }
  return compiledWasm;
}

/** A memory for one context: 16 MiB to start, at most `memoryBytes`. */
export function contextMemory(memoryBytes: number): WasmMemory {
  return new wasm.Memory({ initial: 256, maximum: memoryBytes / 65536 });
}
