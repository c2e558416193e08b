import { afterAll, describe, expect, it } from 'vitest';
import { entryReadsProfiles } from './entry-inputs.js';
import { createSandbox } from './pool.js';
import type { SandboxEvent } from './types.js';

describe('entryReadsProfiles: false only where the function provably cannot read profiles', () => {
  const unread = [
    'function transform({ events }) { return events; }',
    'function transform({ events, secrets }) { return events; }',
    'function transform({ events, profiles, secrets }) { return events; }',
    'function transform({events,profiles,}) { return events }',
    'async function transform({ events }) { return events; }',
    'function ({ events }) { return events; }',
    '({ events }) => events',
    'async ({ events }) => events',
    'transform({ events }) { return events; }',
    'function transform({ events }) { const $profiles = 1; return events; }',
    'function transform({ events }) { return events.map((e) => ({ ...e, profiles: 1 })); }',
  ];
  it.each(unread)('%s', (source) => expect(entryReadsProfiles(source)).toBe(false));

  const reads = [
    // the argument bound to a name, or not a plain pattern
    'function transform(input) { return input.events; }',
    'function transform({ events, ...rest }) { return rest.profiles; }',
    'function transform({ events, profiles: p }) { return p; }',
    'function transform({ events, profiles = {} }) { return profiles; }',
    'function transform({ events }, more) { return more; }',
    'function transform({ events, [name]: x }) { return x; }',
    '(input) => input.profiles',
    // a name the argument lacks: its lookup reaches Object.prototype, whose getter gets the argument as this
    'function transform({ events, leak }) { return leak; }',
    'function transform({ events, __proto__ }) { return events; }',
    // the pattern names profiles and the text uses the word again
    'function transform({ events, profiles }) { return profiles; }',
    'function transform({ events, profiles }) { return events.map((e) => profiles[e.event_id]); }',
    'function transform({ events, profiles }) { /* profiles */ return events; }',
    // a way to the arguments or to a name the text does not spell
    'function transform({ events }) { return arguments[0].profiles; }',
    "function transform({ events }) { return eval('argu' + 'ments')[0]; }",
    'function transform({ events, profiles }) { return \\u0070rofiles; }',
    'function transform({ events }) { return \\u0061rguments[0]; }',
    // no source text to read
    'function bound transform() {\n    [native code]\n}',
    // ... nor when a bound function's or a proxy's name is made to look like a parameter list
    'function ({ events }) {} //() {\n    [native code]\n}',
    'async function ({ events }) {}() {\n    [native code]\n}',
    '',
  ];
  it.each(reads)('%s', (source) => expect(entryReadsProfiles(source)).toBe(true));
});

describe('a transform run says when its entry never reads profiles', () => {
  const sandbox = createSandbox({ workers: 1, limits: { transformCpuMs: 500 } });
  afterAll(() => sandbox.close());
  let version = 0;
  const event = (n: number): SandboxEvent => ({
    event_type: 'purchase',
    event_time: 't',
    event_payload: { n },
  });
  const run = (code: string, events = [event(1), event(2)]) =>
    sandbox.transform({
      code: { kind: 'transform', owner: `pip_in${++version}`, version: 1, code },
      events,
      profiles: { a: 1 },
      secrets: {},
    });

  it('on the batch path and per event, for the function the sandbox calls', async () => {
    const batch = await run('function transform({ events }) { return events.map((e) => e); }');
    expect(batch.path).toBe('batch');
    expect(batch.profilesUnread).toBe(true);
    const perEvent = await run('function transform({ events, profiles }) { return [events[0]]; }');
    expect(perEvent.path).toBe('per-event');
    expect(perEvent.profilesUnread).toBe(true);
  });

  it('not for code that reads them, however it reaches them', async () => {
    const codes = [
      'function transform({ events, profiles }) { return events.map((e) => ({ ...e, event_payload: profiles })); }',
      'function transform(input) { return input.events; }',
      // The text's first transform is not the entry: the name is rebound by a computed write.
      `function transform({ events }) { return events; }
       globalThis['trans' + 'form'] = function (input) { return input.events.map((e) => ({ ...e, event_payload: input['prof' + 'iles'] })); };`,
      // A getter on Object.prototype for a name the pattern asks and the argument lacks.
      `Object.defineProperty(Object.prototype, 'leak', { get() { return this.profiles; } });
       function transform({ events, leak }) { return events.map((e) => ({ ...e, event_payload: leak })); }`,
      // A bound function or a proxy whose name makes the engine's text look like an unread pattern.
      `function read(input) { return input.events.map((e) => ({ ...e, event_payload: input.profiles })); }
       var transform = read.bind(null);
       Object.defineProperty(transform, 'name', { value: '({ events }) {} //' });`,
      `function read(input) { return input.events.map((e) => ({ ...e, event_payload: input.profiles })); }
       var transform = new Proxy(read, { get: (t, k) => (k === 'name' ? '({ events }) {} //' : t[k]) });`,
      `function read(input) { return input.events.map((e) => ({ ...e, event_payload: input.profiles })); }
       export default new Proxy(read, { get: (t, k) => (k === 'name' ? '({ events }) {} //' : t[k]) });`,
      // new Function whose parameter text closes the list early: QuickJS returns the second function.
      `var transform = new Function('{ events }) { return events; }, function (input',
         'return input.events.map((e) => ({ ...e, event_payload: input.profiles }));');`,
      // The prelude's entry slot made a getter that hands out another function than the text's.
      `Object.defineProperty(globalThis, '__openpipes_entry', { set() {}, get() {
         return function (input) { return input.events.map((e) => ({ ...e, event_payload: input.profiles })); };
       } });
       function transform({ events }) { return events; }`,
      // A module whose export is another function than the one its text starts with.
      `export function helper({ events }) { return events; }
       export function transform(input) { return input.events; }`,
    ];
    for (const code of codes) {
      const r = await run(code);
      expect(r.results.every((x) => x.ok)).toBe(true);
      expect(r.profilesUnread).toBeUndefined();
    }
  });

  it('an unread entry has no other way to its argument: no legacy arguments or caller in QuickJS', async () => {
    const r = await run(`function transform({ events }) {
        return events.map((e) => ({ ...e, event_payload: { seen: peek() } }));
      }
      function peek() {
        var seen = [];
        for (var get of [() => transform.arguments, () => peek.caller, () => peek.caller.arguments])
          try { seen.push(get()); } catch (err) { seen.push(String(err)); }
        return JSON.stringify(seen);
      }`);
    expect(r.profilesUnread).toBe(true);
    for (const result of r.results) {
      expect(result.ok).toBe(true);
      if (result.ok) expect(JSON.stringify(result.outputs)).not.toContain('\\"a\\":1');
    }
  });

  it('reading the entry and its text runs under the limit: a trap that never returns is stopped', async () => {
    const code = `var transform = new Proxy(function ({ events }) { return events; }, {
      get: (t, k) => { if (k === 'name') for (;;); return t[k]; } });`;
    const error = await run(code).then(
      () => undefined,
      (err: unknown) => err,
    );
    // Stopped in the worker by the call's limit, not by the pool's watchdog stopping the worker.
    expect(error).toMatchObject({ code: 'TIMEOUT', message: 'CPU time limit exceeded' });
  });

  it('not for an entry whose text user code cannot fake: a replaced toString changes nothing', async () => {
    const r = await run(`Function.prototype.toString = () => 'function transform({ events }) {}';
      function transform(input) { return input.events; }`);
    expect(r.results.every((x) => x.ok)).toBe(true);
    expect(r.profilesUnread).toBeUndefined();
  });
});
