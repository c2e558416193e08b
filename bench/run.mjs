#!/usr/bin/env node
// Runs every benchmark in bench/ (files named *.bench.mjs), or those whose names contain the
// arguments given: `npm run bench -- ingest sandbox`. Each benchmark prints JSON lines to stdout:
// {"bench": "...", "metric": "...", "value": n, "unit": "...", ...}. Benchmarks run one at a time,
// each in its own process, so that one cannot warm or starve another.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

let failed = 0;
for (const file of files) {
  const run = spawnSync(process.execPath, ['--expose-gc', join(here, file)], { stdio: 'inherit' });
  if (run.status !== 0) {
    failed++;
    console.log(JSON.stringify({ bench: file, error: `exited with ${run.status ?? run.signal}` }));
  }
}
process.exit(failed === 0 ? 0 : 1);
