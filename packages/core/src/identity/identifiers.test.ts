import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IDENTIFIERS, type IdentifierKind } from './identifiers.js';
import { identifierRank } from './profiles.js';

/** docs/identifiers.md's first table, row by row: the doc and the code must say the same. */
function docRows() {
  const doc = readFileSync(new URL('../../../../docs/identifiers.md', import.meta.url), 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of doc.split('\n')) {
    const m = /^\| `([a-z_0-9]+)` \|(.*)\|$/.exec(line);
    if (m && !rows.has(m[1] as string))
      rows.set(
        m[1] as string,
        (m[2] as string).split(' | ').map((c) => c.trim()),
      );
  }
  return rows;
}

const names = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

describe('the identifier table', () => {
  const rows = docRows();

  it('docs/identifiers.md lists every kind the code knows, and no other', () => {
    const documented = [...rows.keys()].filter((k) => k !== 'ip' && k !== 'user_agent');
    expect(documented).toEqual(IDENTIFIERS.map((s) => s.kind));
  });

  it.each(IDENTIFIERS.map((s) => [s.kind, s] as const))(
    '%s: field, URL parameter, cookies and window agree',
    (kind, spec) => {
      const [field, url, cookie, stored, window] = rows.get(kind) ?? [];
      expect(names(field ?? '')).toEqual(expect.arrayContaining([spec.field, ...spec.aliases]));
      for (const param of spec.urlParams) expect(names(url ?? '')).toContain(param);
      if (!spec.urlParams.length) expect(url).toBe('—');
      for (const c of spec.cookies) expect(names(cookie ?? '')).toContain(c.name);
      if (!spec.cookies.length) expect(cookie).toBe('—');
      if (spec.stored === 'raw') expect(stored).toMatch(/^raw/);
      else for (const scheme of spec.stored) expect(names(stored ?? '')).toContain(scheme);
      expect(window).toBe(spec.windowDays === null ? '—' : `${spec.windowDays} days`);
    },
  );
});

describe('identifierRank', () => {
  it('ranks user id, external id, email and phone first, then the table’s order; an unknown kind -1', () => {
    const rest = IDENTIFIERS.map((s) => s.kind).filter(
      (k) => !['user_id', 'external_id', 'email', 'phone'].includes(k),
    );
    const order = ['user_id', 'external_id', 'email', 'phone', ...rest] as IdentifierKind[];
    expect(order.map(identifierRank)).toEqual(order.map((_, n) => n));
    expect(identifierRank('nope' as IdentifierKind)).toBe(-1);
  });
});
