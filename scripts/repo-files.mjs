// The repository's files, for the lint scripts: tracked and untracked-but-not-ignored ones (git),
// or a plain walk (skipping node_modules, dist and the like) when this is not a git checkout.
// Paths are relative to the repository root, with `/` separators.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

export function listFiles() {
  try {
    const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.split('\0').filter(Boolean);
  } catch {
    return walk(root);
  }
}

function walk(dir) {
  const skip = new Set(['node_modules', 'dist', '.git', '.turbo', 'coverage']);
  const files = [];
  for (const name of readdirSync(dir)) {
    if (skip.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...walk(path));
    else files.push(relative(root, path).split(sep).join('/'));
  }
  return files;
}
