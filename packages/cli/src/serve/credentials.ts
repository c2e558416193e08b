/**
 * The two credentials a standalone server needs: the secret key (encrypts secret values at rest)
 * and the admin token (the first API key). From the environment when set; otherwise from files
 * beside the SQLite database, generated with mode 0600 on the first start.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { CliError, exitCodes } from '../errors.js';

/** Where a credential came from. */
export type CredentialSource = 'env' | 'file' | 'generated';

export interface Credential {
  value: string;
  source: CredentialSource;
  /** The file it is kept in (file or generated). */
  file?: string;
}

export interface Credentials {
  secretKey: Credential;
  adminToken: Credential;
  /** Permission problems worth a warning (a key file others can read). */
  warnings: string[];
}

/** A fresh secret key: 32 random bytes, base64url. */
export const newSecretKey = () => randomBytes(32).toString('base64url');
/** A fresh admin token: `opa_` and 32 random bytes, base64url. */
export const newAdminToken = () => `opa_${randomBytes(32).toString('base64url')}`;

/** The files beside a database: `<db>.secret-key` and `<db>.admin-token`. */
export function credentialFiles(database: string) {
  return { secretKey: `${database}.secret-key`, adminToken: `${database}.admin-token` };
}

function readCredential(file: string, warnings: string[]): string {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    warnings.push(`${file} can be read by other users (mode ${mode.toString(8)}); run chmod 600 ${file}`);
  }
  return readFileSync(file, 'utf8').trim();
}

function writeCredential(file: string, value: string): void {
  // `wx`: never overwrite a credential another process wrote a moment ago.
  writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

/**
 * Resolves the credentials of a SQLite-backed server. A key is generated only for a database that
 * does not exist yet: a new key for an existing database would leave its secret values unreadable.
 */
export function sqliteCredentials(
  env: Record<string, string | undefined>,
  database: string,
  databaseExisted: boolean,
): Credentials {
  const files = credentialFiles(database);
  const warnings: string[] = [];

  const resolve = (
    envName: string,
    file: string,
    generate: () => string,
    canGenerate: boolean,
  ): Credential => {
    const fromEnv = env[envName]?.trim();
    if (fromEnv) return { value: fromEnv, source: 'env' };
    if (existsSync(file)) return { value: readCredential(file, warnings), source: 'file', file };
    if (!canGenerate) {
      throw new CliError(
        `the database ${database} exists, but its secret key is neither in ${envName} nor in ${file}`,
        exitCodes.failure,
        `set ${envName} to the key this database was created with, or restore ${file}; a new key could not decrypt the stored secret values`,
      );
    }
    const value = generate();
    writeCredential(file, value);
    return { value, source: 'generated', file };
  };

  const secretKey = resolve('OPENPIPES_SECRET_KEY', files.secretKey, newSecretKey, !databaseExisted);
  const adminToken = resolve('OPENPIPES_ADMIN_TOKEN', files.adminToken, newAdminToken, true);
  check(secretKey, adminToken);
  return { secretKey, adminToken, warnings };
}

/**
 * Resolves the credentials of a PostgreSQL-backed server: from the environment only, since every
 * process must share them (generate them once with `openpipes keygen`).
 */
export function postgresCredentials(env: Record<string, string | undefined>): Credentials {
  const missing = ['OPENPIPES_SECRET_KEY', 'OPENPIPES_ADMIN_TOKEN'].filter((name) => !env[name]?.trim());
  if (missing.length > 0) {
    throw new CliError(
      `with --postgres, ${missing.join(' and ')} must be set (every process must use the same ones)`,
      exitCodes.usage,
      'generate them once with `openpipes keygen`, keep them in your secret manager, and give every process the same values',
    );
  }
  const secretKey: Credential = { value: env.OPENPIPES_SECRET_KEY!.trim(), source: 'env' };
  const adminToken: Credential = { value: env.OPENPIPES_ADMIN_TOKEN!.trim(), source: 'env' };
  check(secretKey, adminToken);
  return { secretKey, adminToken, warnings: [] };
}

function check(secretKey: Credential, adminToken: Credential): void {
  if (secretKey.value.length < 16) {
    throw new CliError(
      'the secret key is shorter than 16 characters',
      exitCodes.usage,
      'use `openpipes keygen`',
    );
  }
  if (adminToken.value.length < 16) {
    throw new CliError(
      'the admin token is shorter than 16 characters',
      exitCodes.usage,
      'use `openpipes keygen`',
    );
  }
}
