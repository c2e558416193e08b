import { describe, expect, it } from 'vitest';
import * as core from './index.js';

describe('@openpipes/core root exports', () => {
  it('leaves out the helpers only the engine itself uses (CHANGELOG.md lists them)', () => {
    const internal = [
      'backoffDelayMs',
      'classifySend',
      'isRetryableStatus',
      'parseRetryAfter',
      'dropPrototypeKeys',
      'parseBody',
      'sliceBatch',
      'createSchemaCompiler',
      'createVault',
      'isSensitiveName',
      'jsonIssueMessages',
      'maxJsonDepth',
      'planConfigImport',
      'buildConfigDocument',
      'idPattern',
      'idPrefixes',
      'idTime',
      'isId',
      'createDefaultLogger',
    ];
    expect(internal.filter((name) => name in core)).toEqual([]);
  });

  it('keeps what embedders, stores and the HTTP layer import', () => {
    for (const name of ['createPipes', 'PipesError', 'adaptLogger', 'silentLogger', 'newId', 'idAtTime']) {
      expect(core, name).toHaveProperty(name);
    }
  });
});
