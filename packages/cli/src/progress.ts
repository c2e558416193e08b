/**
 * Progress of long exports and imports on stderr: one line rewritten in place on a terminal, a line
 * per phase otherwise (so CI logs stay short). stdout stays clean for the data.
 */
import type { StreamProgress } from './client.js';
import type { Io } from './io.js';

const phaseNames: Record<string, string> = {
  read: 'reading',
  check: 'checking code and schemas',
  apply: 'applying',
};

/** Phases with fewer steps than this are not reported without a terminal (they take a moment). */
const longPhase = 50;

export interface ProgressReporter {
  update(progress: StreamProgress): void;
  /** Clears the progress line. */
  done(): void;
}

/**
 * @example
 * ```ts
 * const progress = createProgress(io, 'import');
 * await client.stream('POST', '/api/config/import', { body, onProgress: progress.update });
 * progress.done();
 * ```
 */
export function createProgress(io: Io, label: string): ProgressReporter {
  const tty = Boolean(io.stderr.isTTY);
  let lastPhase = '';
  let shown = false;
  return {
    update(progress) {
      const phase = phaseNames[progress.phase] ?? progress.phase;
      const counts =
        progress.phase === 'read' ? `${progress.done} entities` : `${progress.done}/${progress.total}`;
      const what =
        progress.kind && progress.name ? ` ${progress.kind.replace('_', ' ')} ${progress.name}` : '';
      if (tty) {
        io.stderr.write(`\r\x1b[2K${label}: ${phase} ${counts}${what}`);
        shown = true;
        return;
      }
      // Without a terminal: for long phases only, one line when a phase starts and one when it ends.
      const edge = progress.phase !== lastPhase || progress.done === progress.total;
      lastPhase = progress.phase;
      if (edge && progress.phase !== 'read' && progress.total >= longPhase) {
        io.stderr.write(`${label}: ${phase} ${counts}\n`);
      }
    },
    done() {
      if (tty && shown) io.stderr.write('\r\x1b[2K');
    },
  };
}
