/**
 * The `openpipes` process: runs {@link main} with the command line and exits with its code once
 * stdout and stderr have been written out (a piped `config export` must not be cut short).
 */
import { main } from './index.js';

const code = await main(process.argv.slice(2));
// The sandbox's worker threads and the store are closed by now; exit explicitly anyway so a stray
// handle (a keep-alive socket) never keeps a finished command alive, but only after the output is flushed.
process.stdout.write('', () => {
  process.stderr.write('', () => process.exit(code));
});
