/**
 * Messages between the pool (main thread) and a sandbox worker. Everything here crosses a thread
 * boundary by structured clone, so it is plain data.
 */
import type { ActivityBuffers } from './activity.js';
import type { GuestFetchRequest, GuestFetchResponse } from './host-fetch.js';
import type { TransformPayload } from './results.js';
import type { CodeRef, SandboxFailure, SandboxLimits, SendRun } from './types.js';

export interface WorkerConfig {
  limits: SandboxLimits;
  egressAllow: string[];
  /** URL of the module whose default export resolves host names for the egress guard. */
  egressResolver?: string;
  contextMaxUses: number;
  /** Recycle a context once its WASM heap has grown past this many bytes. */
  recycleHeapBytes: number;
  /** Warm contexts kept per worker (least recently used are disposed first). */
  maxWarmContexts: number;
  /** Try one call over the whole batch before calling the transform once per event. */
  batchTransforms: boolean;
  /** Key of the digests of secret values that warm contexts are kept under (see secret-digest.ts). */
  secretDigestKey: string;
  /** Memory shared with the pool: which call runs guest code, which calls started (activity.ts). */
  activity: ActivityBuffers;
}

export type ToWorker =
  | {
      type: 'transform';
      id: number;
      code: CodeRef;
      /** The input batch in QuickJS's binary form, encoded once on the main thread (transferred). */
      eventsBjson: Uint8Array;
      count: number;
      /** The profiles as QuickJS bjson (copied to each chunk's call, not transferred), or none. */
      profilesBjson: Uint8Array | undefined;
      secretsJson: string;
      /**
       * Results as JSON text, per event: the main thread could not read this code's binary
       * results (values that are not JSON data, cycles). The worker remembers it for the code.
       */
      textResults?: boolean;
      /** More chunks of the same batch follow: leave freeing memory until the last one. */
      more?: boolean;
    }
  | {
      type: 'send';
      id: number;
      code: CodeRef;
      /** The events as QuickJS bjson (input.ts): read by the engine as JSON data, no parse. */
      eventsBjson: Uint8Array;
      secretsJson: string;
      /** When true, fetches are proxied to the main thread (a substituted `options.fetch`). */
      proxyFetch: boolean;
    }
  | { type: 'compile'; id: number; kind: CodeRef['kind']; code: string }
  | { type: 'fetch-result'; fetchId: number; response?: GuestFetchResponseRaw; error?: { message: string } }
  | { type: 'stats'; id: number }
  /** Dispose of every warm context given a value with one of these digests; none is used again. */
  | { type: 'retire'; id: number; digests: string[] };

/** A response from a proxied fetch, before redirect handling in the worker. */
export interface GuestFetchResponseRaw {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: string;
  truncated: boolean;
}

export interface WorkerStats {
  warmContexts: number;
  contextsCreated: number;
  heapBytes: number;
  /** Transform calls that ran as one call over the batch. */
  batchRuns: number;
  /** Batch attempts that had to be rerun per event, by reason. */
  batchFallbacks: Record<string, number>;
  /** Transform calls that ran per event. */
  perEventRuns: number;
}

export type FromWorker =
  | { type: 'ready' }
  /** The worker started a call (the pool hands it the next one only then, see worker-pool.ts). */
  | { type: 'started'; id: number }
  | { type: 'transform-result'; id: number; payload?: TransformPayload; failure?: SandboxFailure }
  | { type: 'send-result'; id: number; run: SendRun }
  | { type: 'compile-result'; id: number; failure?: SandboxFailure }
  | { type: 'fetch'; id: number; fetchId: number; request: GuestFetchRequest; maxBytes: number }
  | { type: 'stats-result'; id: number; stats: WorkerStats }
  | { type: 'retire-result'; id: number; retired: number };

export type { GuestFetchResponse };
