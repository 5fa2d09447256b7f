/** TokenCache backed by a store shared between processes (here: two caches over one fake store). */
import { describe, expect, it } from 'vitest';
import { TokenCache, type TokenCacheEntry, type TokenStore } from '../src/index.js';

class FakeStore implements TokenStore {
  readonly data = new Map<string, TokenCacheEntry>();
  calls = { get: 0, set: 0, del: 0 };
  failing = false;
  async get(key: string) {
    this.calls.get++;
    if (this.failing) throw new Error('store down');
    const v = this.data.get(key);
    return v ? { ...v } : undefined;
  }
  async set(key: string, value: TokenCacheEntry) {
    this.calls.set++;
    if (this.failing) throw new Error('store down');
    this.data.set(key, { ...value });
  }
  async del(key: string) {
    this.calls.del++;
    if (this.failing) throw new Error('store down');
    this.data.delete(key);
  }
}

const clock = () => {
  let t = 1_800_000_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe('TokenCache with a shared store', () => {
  it('two caches (two processes) over one store fetch the token once', async () => {
    const store = new FakeStore();
    const c = clock();
    let fetches = 0;
    const fetch = async () => `TKN${++fetches}`;
    const a = new TokenCache({ store, clock: c, ttlMs: 60_000 });
    const b = new TokenCache({ store, clock: c, ttlMs: 60_000 });
    expect(await a.get('k', fetch)).toBe('TKN1');
    expect(await b.get('k', fetch)).toBe('TKN1');
    expect(await b.get('k', fetch)).toBe('TKN1'); // now from b's memory
    expect(fetches).toBe(1);
    expect(store.calls.get).toBe(2);
    // b keeps it no longer than the fetcher's expiry.
    c.advance(60_000);
    expect(await b.get('k', fetch)).toBe('TKN2');
    expect(fetches).toBe(2);
  });

  it('a refused token is deleted from the store and never taken back from it', async () => {
    const store = new FakeStore();
    const c = clock();
    let fetches = 0;
    const fetch = async () => `TKN${++fetches}`;
    const a = new TokenCache({ store, clock: c });
    const b = new TokenCache({ store, clock: c });
    expect(await a.get('k', fetch)).toBe('TKN1');
    expect(await b.get('k', fetch)).toBe('TKN1');
    b.invalidate('k', 'TKN1');
    expect(await b.get('k', fetch)).toBe('TKN2'); // not TKN1 from the store
    expect(store.data.get('k')?.token).toBe('TKN2');
    // a still holds TKN1 in memory; when the SII refuses it there, a takes TKN2 from the store.
    a.invalidate('k', 'TKN1');
    expect(await a.get('k', fetch)).toBe('TKN2');
    expect(fetches).toBe(2);
    // invalidate with an older token leaves the newer one in the store.
    a.invalidate('k', 'TKN1');
    expect(await b.get('k', fetch)).toBe('TKN2');
    // a forced refresh (no token) never takes the store's token.
    b.invalidate('k');
    expect(await b.get('k', fetch)).toBe('TKN3');
    expect(store.data.get('k')?.token).toBe('TKN3');
  });

  it('a failing store only costs token requests', async () => {
    const store = new FakeStore();
    store.failing = true;
    let fetches = 0;
    const fetch = async () => `TKN${++fetches}`;
    const a = new TokenCache({ store });
    const b = new TokenCache({ store });
    expect(await a.get('k', fetch)).toBe('TKN1');
    expect(await b.get('k', fetch)).toBe('TKN2');
    a.invalidate('k', 'TKN1');
    expect(await a.get('k', fetch)).toBe('TKN3');
    expect(await Promise.all([b.get('k', fetch), b.get('k', fetch)])).toEqual(['TKN2', 'TKN2']);
  });
});
