/** `timbre token`: a bearer token for the local DTE service. */
import { existsSync, readFileSync } from 'node:fs';
import { PERMISSIONS, jwtKeyFrom, signToken, type Permission } from '@timbre/auth';
import { TimbreError } from '@timbre/dte';
import { defaultDataDir, jwtSecretFile } from '../local.js';

export interface TokenCliOptions {
  company: string;
  permissions?: string;
  dteTypes?: string;
  expires: string;
  secret?: string;
  sub?: string;
}

/** Every permission but `admin`. */
export const DEFAULT_PERMISSIONS: Permission[] = PERMISSIONS.filter((p) => p !== 'admin');

const list = (v: string | undefined): string[] | undefined =>
  v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter((s) => s !== '');

/** The key: --secret, TIMBRE_JWT_SECRET, or the embedded secret file of `timbre serve dte`. */
export function tokenKey(secret: string | undefined, dataDir = defaultDataDir()): Uint8Array {
  const text = secret ?? process.env.TIMBRE_JWT_SECRET;
  if (text) return jwtKeyFrom(text);
  const file = jwtSecretFile(dataDir);
  if (!existsSync(file)) {
    throw new TimbreError('ERR_INPUT_INVALID', `no --secret, no TIMBRE_JWT_SECRET and no ${file} (\`timbre serve dte\` or \`npm start\` creates it)`, { field: 'secret' });
  }
  return jwtKeyFrom(readFileSync(file, 'utf8'));
}

export async function runToken(o: TokenCliOptions): Promise<number> {
  const permissions = (list(o.permissions) ?? DEFAULT_PERMISSIONS) as Permission[];
  const types = list(o.dteTypes)?.map(Number);
  let key: Uint8Array;
  try {
    key = tokenKey(o.secret);
  } catch (e) {
    if (e instanceof TimbreError) throw e;
    throw new TimbreError('ERR_INPUT_INVALID', (e as Error).message, { field: 'secret' });
  }
  let token: string;
  try {
    token = await signToken({ sub: o.sub ?? 'timbre-cli', companies: [o.company], permissions, ...(types ? { dteTypes: types } : {}) }, key, { expiresIn: o.expires });
  } catch (e) {
    throw new TimbreError('ERR_INPUT_INVALID', (e as Error).message);
  }
  process.stdout.write(`${token}\n`);
  return 0;
}
