#!/usr/bin/env node
// Fails when a source file is over 500 lines and does not say why at its top.
//
// Rule (CONTRIBUTING.md, "Long files"): every JavaScript or TypeScript file in the repository
// (.ts .tsx .mts .cts .js .mjs .cjs, tests and declaration files included; node_modules, dist and
// other ignored paths excluded) has at most 500 lines, or carries a comment in its first 10 lines
// that starts with `long-file:` and gives the reason in words, for example
//
//   // long-file: the Store conformance suite, one case list every adapter runs top to bottom
//
// (or ` * long-file: ...` inside the top JSDoc block). Tests follow the same rule: a long test
// file is usually several suites that want splitting, and when it is not, say why.
//
// Usage: node scripts/check-file-size.mjs [--max N]; `npm run lint` runs it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listFiles, root } from './repo-files.mjs';

const maxArg = process.argv.indexOf('--max');
const MAX_LINES = maxArg > 0 ? Number(process.argv[maxArg + 1]) : 500;
const HEAD_LINES = 10;
const SOURCE = /\.(?:[cm]?[jt]s|tsx)$/;
// The reason must be words, not a placeholder: at least 10 characters after the colon.
const MARKER = /^\s*(?:\/\/|\/\*+|\*)\s*long-file:\s*(\S.{9,})/;

const offenders = [];
let checked = 0;
for (const file of listFiles()) {
  if (!SOURCE.test(file)) continue;
  let text;
  try {
    text = readFileSync(join(root, file), 'utf8');
  } catch {
    continue; // listed by git but deleted in the working tree
  }
  checked++;
  const lines = text.split('\n');
  const count = text.endsWith('\n') ? lines.length - 1 : lines.length;
  if (count <= MAX_LINES) continue;
  if (lines.slice(0, HEAD_LINES).some((line) => MARKER.test(line))) continue;
  offenders.push({ file, count });
}

if (offenders.length > 0) {
  console.error(
    `${offenders.length} source file(s) over ${MAX_LINES} lines without a reason at the top.\n` +
      `Split by concern, or add a comment in the first ${HEAD_LINES} lines: // long-file: <why it stays long>\n`,
  );
  for (const { file, count } of offenders.sort((a, b) => b.count - a.count)) {
    console.error(`  ${file}: ${count} lines`);
  }
  process.exit(1);
}
console.log(`check-file-size: ${checked} source files, none over ${MAX_LINES} lines without a reason`);
