/**
 * Errors out of a QuickJS context as {@link SandboxFailure}s: what the engine dumped for an error
 * handle, and which uncatchable stops (interrupt, out of memory, stack overflow) it stands for.
 */
import { locate } from '../failure.js';
import type { SandboxFailure } from '../types.js';

/** A failure that ends creating or calling a context (thrown; the worker reports its `failure`). */
export class GuestCodeError extends Error {
  constructor(readonly failure: SandboxFailure) {
    super(failure.message);
  }
}

function describeDumped(dumped: unknown): { name: string; message: string; stack?: string } {
  if (dumped && typeof dumped === 'object') {
    const d = dumped as { name?: unknown; message?: unknown; stack?: unknown };
    const out: { name: string; message: string; stack?: string } = {
      name: typeof d.name === 'string' ? d.name : 'Error',
      message: typeof d.message === 'string' ? d.message : String(dumped),
    };
    if (typeof d.stack === 'string') out.stack = d.stack;
    return out;
  }
  return { name: 'Error', message: `uncaught ${String(dumped)}` };
}

/** Classifies an error that escaped the harness (interrupts cannot be caught inside the guest). */
export function classifyEscaped(
  name: string,
  message: string,
): 'TIMEOUT' | 'OUT_OF_MEMORY' | 'STACK_OVERFLOW' | undefined {
  if (/interrupted/i.test(message)) return 'TIMEOUT';
  if (/out of memory/i.test(message)) return 'OUT_OF_MEMORY';
  if (/stack overflow|call stack/i.test(message) && (name === 'InternalError' || name === 'RangeError')) {
    return 'STACK_OVERFLOW';
  }
  return undefined;
}

/**
 * The failure an error dumped from the engine stands for, located in user code (`filename`), and
 * whether it was an uncatchable stop (the context is then unclean: abandoned, never freed).
 */
export function failureFromDumped(
  dumped: unknown,
  fallback: SandboxFailure['code'],
  filename: string,
): { failure: SandboxFailure; escaped: boolean } {
  const d = describeDumped(dumped);
  const escaped = classifyEscaped(d.name, d.message);
  const message = escaped === 'TIMEOUT' ? 'CPU time limit exceeded' : `${d.name}: ${d.message}`;
  const failure: SandboxFailure = {
    code: escaped ?? fallback,
    message,
    ...locate(d.stack ?? d.message, filename),
  };
  if (d.stack) failure.stack = d.stack;
  if (failure.line === undefined && d.name === 'SyntaxError') {
    // QuickJS puts the location of a syntax error in the stack as "at file:line:col".
    Object.assign(failure, locate(d.stack, filename));
  }
  return { failure, escaped: escaped !== undefined };
}
