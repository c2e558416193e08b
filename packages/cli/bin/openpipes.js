#!/usr/bin/env node
// The `openpipes` command. The code is in dist/ (built by `npm run build` or `npm start`).
import('../dist/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli.js')) {
    process.stderr.write('openpipes: the CLI is not built yet; run `npm run build` at the repository root\n');
    process.exit(1);
  }
  throw err;
});
