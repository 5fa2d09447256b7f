import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { signingKeyFromPem } from '../src/signing-key.js';
import { TimbreError } from '../src/errors.js';

describe('signingKeyFromPem', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'timbre-sk-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=test', '-days', '2', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' });
  const key = readFileSync(path.join(dir, 'k.pem'), 'utf8');
  const cert = readFileSync(path.join(dir, 'c.pem'), 'utf8');

  it('exposes the modulus and exponent written in KeyValue (same as openssl reads them)', () => {
    const k = signingKeyFromPem(key, cert);
    const modulusHex = execFileSync('openssl', ['x509', '-noout', '-modulus', '-in', path.join(dir, 'c.pem')], { encoding: 'utf8' }).trim().replace('Modulus=', '');
    expect(Buffer.from(k.modulusB64, 'base64').toString('hex').toUpperCase()).toBe(modulusHex);
    expect(k.exponentB64).toBe('AQAB');
  });

  it('refuses a private key that does not belong to the certificate', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => signingKeyFromPem(other, cert)).toThrow(TimbreError);
  });
});
