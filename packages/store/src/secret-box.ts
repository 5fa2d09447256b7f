import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { StoreError } from './errors.js';

/**
 * Secrets at rest: AES-256-GCM with a fresh random 12-byte IV per value and a 16-byte tag.
 * Sealed format: `tbx1.` + base64url(IV ‖ ciphertext ‖ tag). The version prefix is
 * authenticated as AAD, so a future `tbx2` cannot be confused with it.
 */
export interface SecretBox {
  seal(plaintext: Buffer | string): string;
  /** Throws StoreError ERR_SECRET_MALFORMED (not a sealed value) or ERR_SECRET_TAMPERED (altered / other key). */
  open(sealed: string): Buffer;
}

const PREFIX = 'tbx1.';
const IV_LEN = 12;
const TAG_LEN = 16;
const AAD = Buffer.from(PREFIX, 'latin1');

export function createSecretBox(masterKey: Buffer): SecretBox {
  if (!Buffer.isBuffer(masterKey) || masterKey.length !== 32) {
    throw new StoreError('ERR_MASTER_KEY_INVALID', `the master key must be 32 bytes, got ${Buffer.isBuffer(masterKey) ? masterKey.length : typeof masterKey}`);
  }
  const key = Buffer.from(masterKey); // our own copy
  return {
    seal(plaintext) {
      const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
      const iv = randomBytes(IV_LEN);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LEN });
      cipher.setAAD(AAD);
      const ct = Buffer.concat([cipher.update(data), cipher.final()]);
      return PREFIX + Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64url');
    },
    open(sealed) {
      if (typeof sealed !== 'string' || !sealed.startsWith(PREFIX)) {
        throw new StoreError('ERR_SECRET_MALFORMED', 'not a sealed value (missing the tbx1. version prefix)');
      }
      const body = sealed.slice(PREFIX.length);
      if (!/^[A-Za-z0-9_-]*$/.test(body)) throw new StoreError('ERR_SECRET_MALFORMED', 'the sealed value is not base64url');
      const raw = Buffer.from(body, 'base64url');
      if (raw.length < IV_LEN + TAG_LEN) throw new StoreError('ERR_SECRET_MALFORMED', 'the sealed value is too short');
      const iv = raw.subarray(0, IV_LEN);
      const tag = raw.subarray(raw.length - TAG_LEN);
      const ct = raw.subarray(IV_LEN, raw.length - TAG_LEN);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LEN });
        decipher.setAAD(AAD);
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(ct), decipher.final()]);
      } catch (cause) {
        throw new StoreError('ERR_SECRET_TAMPERED', 'the sealed value does not authenticate: it was altered or sealed with another master key', { cause });
      }
    },
  };
}

/**
 * The 32-byte master key from TIMBRE_MASTER_KEY (or the given value): 64 hex characters, or
 * base64/base64url that decodes to exactly 32 bytes.
 */
export function masterKeyFrom(value: string | undefined = process.env.TIMBRE_MASTER_KEY): Buffer {
  const v = (value ?? '').trim();
  if (v === '') throw new StoreError('ERR_MASTER_KEY_INVALID', 'TIMBRE_MASTER_KEY is not set');
  if (/^[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(v)) {
    const key = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === 32) return key;
  }
  throw new StoreError('ERR_MASTER_KEY_INVALID', 'TIMBRE_MASTER_KEY must be 32 bytes as 64 hex characters or base64');
}
