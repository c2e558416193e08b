#!/usr/bin/env node
// Fails when a function is over 120 lines and does not say why in a comment.
//
// Rule (CONTRIBUTING.md, "Long functions"): every function declaration, function expression,
// arrow function, method, accessor and constructor in the packages' sources (packages/*/src and
// packages/console/app/src; `*.test.ts(x)` files excluded) has at most 120 lines, counted from its
// first line to its last, or carries a comment that starts with `long-function:` and gives the
// reason in words, either directly above it (above the statement, property or call that holds it,
// JSDoc included) or on its first line or the line after, for example
//
//   // long-function: one list of `it` cases sharing the adapter set up above them
//   export function runStoreDeliveryCounts(factory: StoreFactory): void {
//
// Nested functions are measured on their own: a long closure with a marker does not excuse a long
// function inside it.
//
// Usage: node scripts/check-function-size.mjs [--max N]; `npm run lint` runs it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { listFiles, root } from './repo-files.mjs';

const maxArg = process.argv.indexOf('--max');
const MAX_LINES = maxArg > 0 ? Number(process.argv[maxArg + 1]) : 120;
const SOURCE = /^packages\/(?:[^/]+\/src|console\/app\/src)\/.*\.(?:[cm]?[jt]s|tsx)$/;
const TEST = /\.test\.[cm]?[jt]sx?$/;
const DECLARATION = /\.d\.[cm]?ts$/;
// The reason must be words, not a placeholder: at least 10 characters after the colon.
// `m`: in a JSDoc block the marker is on one of its ` * ` lines.
const MARKER = /(?:\/\/|\/\*+|^\s*\*)\s*long-function:\s*(\S.{9,})/m;

/** The package sources this rule covers (tests and declaration files left out). */
function sourceFiles() {
  return listFiles().filter((file) => SOURCE.test(file) && !TEST.test(file) && !DECLARATION.test(file));
}

function scriptKind(file) {
  if (file.endsWith('.tsx')) return ts.ScriptKind.TSX;
  if (/\.[cm]?js$/.test(file)) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

/** The node whose leading comment speaks for `fn`: the statement, property or argument holding it. */
function anchorOf(fn) {
  let node = fn;
  while (node.parent) {
    const parent = node.parent;
    if (
      ts.isVariableDeclaration(parent) ||
      ts.isVariableDeclarationList(parent) ||
      ts.isVariableStatement(parent) ||
      ts.isPropertyAssignment(parent) ||
      ts.isPropertyDeclaration(parent) ||
      ts.isExportAssignment(parent) ||
      ts.isParenthesizedExpression(parent) ||
      ts.isAsExpression(parent) ||
      ts.isSatisfiesExpression(parent) ||
      ts.isCallExpression(parent) ||
      ts.isExpressionStatement(parent) ||
      ts.isReturnStatement(parent) ||
      (ts.isBinaryExpression(parent) && parent.right === node)
    ) {
      node = parent;
      if (ts.isStatement(node)) break;
      continue;
    }
    break;
  }
  return node;
}

function nameOf(fn, source) {
  if (fn.name) return fn.name.getText(source);
  if (ts.isConstructorDeclaration(fn)) return 'constructor';
  const parent = fn.parent;
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) && parent.name) {
    return parent.name.getText(source);
  }
  if (ts.isBinaryExpression(parent)) return parent.left.getText(source);
  if (ts.isCallExpression(parent)) {
    const callee = parent.expression.getText(source);
    const first = parent.arguments[0];
    const label = first && ts.isStringLiteralLike(first) ? `'${first.text}'` : '…';
    return `${callee}(${label}) callback`;
  }
  if (ts.isExportAssignment(parent)) return 'default export';
  return '(anonymous)';
}

/**
 * A suite written as `function runX() { describe(..., () => { ... }) }` is one thing: the callback
 * that is its outer function's only statement (or expression body) shares that function's marker.
 */
function wrapperOf(fn) {
  const anchor = anchorOf(fn);
  const holder = anchor.parent;
  if (holder && ts.isFunctionLike(holder) && holder.body === anchor) return holder;
  if (holder && ts.isBlock(holder) && holder.statements.length === 1 && ts.isFunctionLike(holder.parent)) {
    return holder.parent;
  }
  return undefined;
}

function hasMarker(fn, source, lines) {
  const outer = wrapperOf(fn);
  if (outer && hasMarker(outer, source, lines)) return true;
  const text = source.getFullText();
  for (const node of new Set([fn, anchorOf(fn)])) {
    const comments = ts.getLeadingCommentRanges(text, node.pos) ?? [];
    if (comments.some((range) => MARKER.test(text.slice(range.pos, range.end)))) return true;
  }
  const first = source.getLineAndCharacterOfPosition(fn.getStart(source)).line;
  return [first, first + 1].some((line) => MARKER.test(lines[line] ?? ''));
}

const offenders = [];
let checked = 0;
let functions = 0;
for (const file of sourceFiles()) {
  let text;
  try {
    text = readFileSync(join(root, file), 'utf8');
  } catch {
    continue; // listed by git but deleted in the working tree
  }
  checked++;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, scriptKind(file));
  const lines = text.split('\n');
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      functions++;
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const count = end - start + 1;
      if (count > MAX_LINES && !hasMarker(node, source, lines)) {
        offenders.push({ file, line: start + 1, name: nameOf(node, source), count });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

if (offenders.length > 0) {
  console.error(
    `${offenders.length} function(s) over ${MAX_LINES} lines without a reason.\n` +
      'Split into named parts, or add a comment directly above it (or on its first line): ' +
      '// long-function: <why it stays long>\n',
  );
  for (const { file, line, name, count } of offenders.sort((a, b) => b.count - a.count)) {
    console.error(`  ${file}:${line} ${name}: ${count} lines`);
  }
  process.exit(1);
}
console.log(
  `check-function-size: ${functions} functions in ${checked} source files, none over ${MAX_LINES} lines without a reason`,
);
