import { SignJWT, base64url } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ApiKeyRecord,
  AuthError,
  type Principal,
  authenticate,
  authorize,
  createApiKey,
  hashApiKey,
  jwtKeyFrom,
  signToken,
  verifyApiKey,
  verifyToken,
} from '../src/index.js';

const KEY = new TextEncoder().encode('k'.repeat(32));
const OTHER_KEY = new TextEncoder().encode('o'.repeat(32));
const RUT = '76086428-5';
const OTHER_RUT = '96874030-K';

async function rejection(p: Promise<unknown>): Promise<AuthError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthError);
  return err as AuthError;
}

function thrown(fn: () => void): AuthError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AuthError);
    return e as AuthError;
  }
  throw new Error('expected an AuthError');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('signToken / verifyToken', () => {
  it('round-trips claims and canonicalises RUTs', async () => {
    const token = await signToken(
      { sub: 'user-1', companies: ['76.086.428-5', '96874030-k'], permissions: ['dte:generate', 'dte:read'], dteTypes: [33, 61] },
      KEY,
    );
    const p = await verifyToken(token, KEY);
    expect(p).toEqual({
      sub: 'user-1',
      companies: [RUT, OTHER_RUT],
      permissions: ['dte:generate', 'dte:read'],
      dteTypes: [33, 61],
      kind: 'jwt',
    });
    // wire format per the API contract: snake_case dte_types, iss/aud 'timbre', 12h expiry
    const payload = JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[1] ?? ''))) as Record<string, unknown>;
    expect(payload['dte_types']).toEqual([33, 61]);
    expect(payload['iss']).toBe('timbre');
    expect(payload['aud']).toBe('timbre');
    expect((payload['exp'] as number) - (payload['iat'] as number)).toBe(12 * 3600);
  });

  it('omits dteTypes when the token has none', async () => {
    const p = await verifyToken(await signToken({ sub: 's', companies: ['*'], permissions: ['admin'] }, KEY), KEY);
    expect(p.dteTypes).toBeUndefined();
    expect(p.companies).toEqual(['*']);
  });

  it('rejects an expired token with 401 ERR_AUTH_EXPIRED, honouring clock tolerance', async () => {
    const token = await signToken({ sub: 's', companies: [RUT], permissions: ['dte:read'] }, KEY, { expiresIn: '1h' });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 3600_000 + 30_000);
    const err = await rejection(verifyToken(token, KEY));
    expect(err.status).toBe(401);
    expect(err.code).toBe('ERR_AUTH_EXPIRED');
    await expect(verifyToken(token, KEY, { clockToleranceSec: 60 })).resolves.toMatchObject({ sub: 's' });
  });

  it('rejects a token signed with another key', async () => {
    const token = await signToken({ sub: 's', companies: [RUT], permissions: ['dte:read'] }, OTHER_KEY);
    const err = await rejection(verifyToken(token, KEY));
    expect([err.status, err.code]).toEqual([401, 'ERR_AUTH_INVALID']);
  });

  it('rejects a tampered payload', async () => {
    const token = await signToken({ sub: 's', companies: [RUT], permissions: ['dte:read'] }, KEY);
    const [h, , s] = token.split('.');
    const forged = base64url.encode(
      JSON.stringify({ sub: 's', companies: ['*'], permissions: ['admin'], iss: 'timbre', aud: 'timbre', exp: 9999999999 }),
    );
    const err = await rejection(verifyToken(`${h}.${forged}.${s}`, KEY));
    expect([err.status, err.code]).toEqual([401, 'ERR_AUTH_INVALID']);
  });

  it('refuses alg none', async () => {
    const enc = (o: object) => base64url.encode(JSON.stringify(o));
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const token = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: 's', companies: ['*'], permissions: ['admin'], iss: 'timbre', aud: 'timbre', exp })}.`;
    const err = await rejection(verifyToken(token, KEY));
    expect([err.status, err.code]).toEqual([401, 'ERR_AUTH_INVALID']);
  });

  it('refuses other HMAC algorithms even with the right key', async () => {
    const token = await new SignJWT({ companies: [RUT], permissions: ['dte:read'] })
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('s')
      .setIssuer('timbre')
      .setAudience('timbre')
      .setExpirationTime('1h')
      .sign(KEY);
    const err = await rejection(verifyToken(token, KEY));
    expect(err.code).toBe('ERR_AUTH_INVALID');
  });

  it('rejects wrong issuer / audience, missing exp and garbage', async () => {
    const claims = { sub: 's', companies: [RUT], permissions: ['dte:read' as const] };
    expect((await rejection(verifyToken(await signToken(claims, KEY, { issuer: 'x' }), KEY))).code).toBe('ERR_AUTH_INVALID');
    expect((await rejection(verifyToken(await signToken(claims, KEY, { audience: 'x' }), KEY))).code).toBe('ERR_AUTH_INVALID');
    await expect(verifyToken(await signToken(claims, KEY, { issuer: 'x', audience: 'y' }), KEY, { issuer: 'x', audience: 'y' })).resolves.toBeTruthy();
    const noExp = await new SignJWT({ companies: [RUT], permissions: ['dte:read'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('s')
      .setIssuer('timbre')
      .setAudience('timbre')
      .sign(KEY);
    expect((await rejection(verifyToken(noExp, KEY))).code).toBe('ERR_AUTH_INVALID');
    expect((await rejection(verifyToken('not.a.jwt', KEY))).code).toBe('ERR_AUTH_INVALID');
  });

  it('rejects validly signed tokens with bad claim shapes', async () => {
    const signRaw = (payload: Record<string, unknown>) =>
      new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).setSubject('s').setIssuer('timbre').setAudience('timbre').setExpirationTime('1h').sign(KEY);
    for (const bad of [
      { companies: ['76086428-4'], permissions: ['dte:read'] }, // wrong check digit
      { companies: 'all', permissions: ['dte:read'] },
      { companies: [RUT], permissions: ['dte:delete'] },
      { companies: [RUT], permissions: ['dte:read'], dte_types: ['33'] },
      { permissions: ['dte:read'] },
    ]) {
      const err = await rejection(verifyToken(await signRaw(bad), KEY));
      expect(err.code).toBe('ERR_AUTH_INVALID');
    }
  });

  it('refuses to sign with a short key or invalid claims', async () => {
    await expect(signToken({ sub: 's', companies: [RUT], permissions: ['dte:read'] }, new Uint8Array(31))).rejects.toThrow(TypeError);
    await expect(signToken({ sub: 's', companies: ['nope'], permissions: ['dte:read'] }, KEY)).rejects.toThrow(TypeError);
  });
});

describe('authorize', () => {
  const p: Principal = { sub: 's', companies: [RUT], permissions: ['dte:generate'], dteTypes: [33], kind: 'jwt' };

  it('passes when permission, company and type are covered (any RUT spelling)', () => {
    expect(() => authorize(p, { permission: 'dte:generate', company: '76.086.428-5', dteType: 33 })).not.toThrow();
    expect(() => authorize(p, { permission: 'dte:generate' })).not.toThrow();
  });

  it('403s a missing permission', () => {
    const err = thrown(() => authorize(p, { permission: 'caf:manage', company: RUT }));
    expect([err.status, err.code]).toEqual([403, 'ERR_AUTH_FORBIDDEN']);
  });

  it('403s another company, and an unparseable one', () => {
    expect(thrown(() => authorize(p, { permission: 'dte:generate', company: OTHER_RUT })).status).toBe(403);
    expect(thrown(() => authorize(p, { permission: 'dte:generate', company: 'garbage' })).status).toBe(403);
  });

  it('403s a DTE type outside dteTypes; absent dteTypes allows every type', () => {
    expect(thrown(() => authorize(p, { permission: 'dte:generate', company: RUT, dteType: 61 })).code).toBe('ERR_AUTH_FORBIDDEN');
    const { dteTypes: _omit, ...allTypes } = p;
    expect(() => authorize(allTypes, { permission: 'dte:generate', company: RUT, dteType: 61 })).not.toThrow();
  });

  it('admin implies every permission (but not other companies)', () => {
    const admin: Principal = { sub: 'a', companies: [RUT], permissions: ['admin'], kind: 'jwt' };
    expect(() => authorize(admin, { permission: 'cert:manage', company: RUT })).not.toThrow();
    expect(thrown(() => authorize(admin, { permission: 'cert:manage', company: OTHER_RUT })).status).toBe(403);
  });

  it("company '*' matches every company", () => {
    const all: Principal = { sub: 'a', companies: ['*'], permissions: ['dte:read'], kind: 'api-key' };
    expect(() => authorize(all, { permission: 'dte:read', company: OTHER_RUT })).not.toThrow();
  });
});

describe('API keys', () => {
  const { key, hash } = createApiKey();
  const records: ApiKeyRecord[] = [
    { id: 'other', hash: hashApiKey('tmb_someoneelse'), companies: [OTHER_RUT], permissions: ['dte:read'] },
    { id: 'erp', hash, companies: ['76.086.428-5'], permissions: ['dte:generate'], dteTypes: [33] },
  ];

  it('creates tmb_ keys of 32 random bytes with a sha256 hex hash', () => {
    expect(key).toMatch(/^tmb_[A-Za-z0-9_-]{43}$/);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).toBe(hash);
    expect(createApiKey().key).not.toBe(key);
  });

  it('verifies a key against stored hashes', () => {
    expect(verifyApiKey(key, records)).toEqual({
      sub: 'erp',
      companies: [RUT],
      permissions: ['dte:generate'],
      dteTypes: [33],
      kind: 'api-key',
    });
  });

  it('returns undefined for an unknown key', () => {
    expect(verifyApiKey(createApiKey().key, records)).toBeUndefined();
    expect(verifyApiKey('', records)).toBeUndefined();
    expect(verifyApiKey(key, [])).toBeUndefined();
  });
});

describe('authenticate', () => {
  const { key, hash } = createApiKey();
  const cfg = { jwtKey: KEY, apiKeys: [{ id: 'erp', hash, companies: [RUT], permissions: ['dte:read' as const] }] };

  it('401 ERR_AUTH_MISSING without credentials', async () => {
    for (const headers of [{}, { authorization: '' }, { 'x-api-key': '  ' }]) {
      const err = await rejection(authenticate(headers, cfg));
      expect([err.status, err.code]).toEqual([401, 'ERR_AUTH_MISSING']);
    }
  });

  it('accepts a Bearer JWT', async () => {
    const token = await signToken({ sub: 'u', companies: [RUT], permissions: ['dte:read'] }, KEY);
    await expect(authenticate({ authorization: `Bearer ${token}` }, cfg)).resolves.toMatchObject({ sub: 'u', kind: 'jwt' });
    await expect(authenticate({ authorization: `bearer ${token}` }, cfg)).resolves.toMatchObject({ kind: 'jwt' });
  });

  it('accepts X-Api-Key and Authorization: ApiKey', async () => {
    await expect(authenticate({ 'x-api-key': key }, cfg)).resolves.toMatchObject({ sub: 'erp', kind: 'api-key' });
    await expect(authenticate({ authorization: `ApiKey ${key}` }, cfg)).resolves.toMatchObject({ sub: 'erp', kind: 'api-key' });
  });

  it('401 ERR_AUTH_INVALID for unknown keys, bad tokens and unknown schemes', async () => {
    for (const headers of [
      { 'x-api-key': 'tmb_nope' },
      { authorization: 'Bearer nope' },
      { authorization: `Basic ${key}` },
      { authorization: 'Bearer' },
    ]) {
      const err = await rejection(authenticate(headers, cfg));
      expect([err.status, err.code]).toEqual([401, 'ERR_AUTH_INVALID']);
    }
    expect((await rejection(authenticate({ 'x-api-key': key }, { jwtKey: KEY }))).code).toBe('ERR_AUTH_INVALID');
  });
});

describe('jwtKeyFrom', () => {
  it('decodes hex, base64 and utf8 secrets of at least 32 bytes', () => {
    const raw = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    expect(Buffer.from(jwtKeyFrom(raw.toString('hex')))).toEqual(raw);
    expect(Buffer.from(jwtKeyFrom(raw.toString('base64')))).toEqual(raw);
    expect(Buffer.from(jwtKeyFrom(raw.toString('base64url')))).toEqual(raw);
    const phrase = 'a passphrase that is long enough!!';
    expect(Buffer.from(jwtKeyFrom(phrase)).toString('utf8')).toBe(phrase);
  });

  it('throws when unset or too short', () => {
    expect(() => jwtKeyFrom(undefined)).toThrow(/not set/);
    expect(() => jwtKeyFrom('')).toThrow();
    expect(() => jwtKeyFrom('short-secret')).toThrow(/32 bytes/);
    expect(() => jwtKeyFrom('ab'.repeat(15))).toThrow(/32 bytes/); // 15 bytes as hex, 22 as base64, 30 as utf8
  });
});
