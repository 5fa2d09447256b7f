/**
 * `SiiMonitor`: one pass over the SII's publication pages — fetch (timeout, User-Agent, size limit,
 * retries with backoff on network errors, timeouts and 5xx), parse, and keep what the store has not
 * seen. The store is the caller's (`SeenStore`): this package owns no state. A failing page is
 * reported in `errors` and the other pages still count, so one broken index does not hide news.
 */
import { SiiMonitorError } from './errors.js';
import {
  circularesIndexUrl,
  noticiasUrl,
  noticiasYearUrl,
  parseCircularesIndex,
  parseNoticias,
  parseResolucionesIndex,
  resolucionesIndexUrl,
  type SiiPublication,
} from './parse.js';

export type SiiSource = 'circulares' | 'resoluciones' | 'noticias';
export const SII_SOURCES: readonly SiiSource[] = ['circulares', 'resoluciones', 'noticias'];

/** What the caller already has: returns the items it has never stored (same order). */
export interface SeenStore {
  unseen(items: readonly SiiPublication[]): Promise<SiiPublication[]>;
}

export type FetchFn = (url: string, init: { signal: AbortSignal; headers: Record<string, string> }) => Promise<Response>;

export interface SiiMonitorOptions {
  /** Site root; default https://www.sii.cl. */
  baseUrl?: string;
  fetch?: FetchFn;
  /** Per attempt, ms (default 15000). */
  timeoutMs?: number;
  /** Largest body read, bytes (default 2 MiB; the real indexes are ~100 KB). */
  maxBytes?: number;
  /** Extra attempts after the first on network errors, timeouts and 5xx (default 2). */
  retries?: number;
  /** First backoff, doubled each retry (default 1000 ms). */
  backoffMs?: number;
  userAgent?: string;
  sources?: readonly SiiSource[];
  /**
   * Also read the year's news index (`/noticias/YYYY/index.html`, whose `arrayIndice` holds the
   * full list; 404 tolerated). Off by default: it adds a page per year to every pass.
   */
  newsYearIndex?: boolean;
}

export interface SourceReport {
  source: SiiSource;
  url: string;
  /** Items parsed from the page (0 when it failed or was a tolerated 404). */
  items: number;
  error?: { code: string; message: string; url: string };
}

export interface MonitorRun {
  /** Every item parsed this pass. */
  items: SiiPublication[];
  /** Items the store had not seen. */
  newItems: SiiPublication[];
  sources: SourceReport[];
  /** The failures (also in `sources`), as typed errors. */
  errors: SiiMonitorError[];
}

const DEFAULT_UA = 'Timbre-SII-Monitor/0.1 (+https://github.com/timbre; monitoreo de normativa DTE)';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Year and month as a Chilean calendar shows them (the SII publishes on Chilean dates). */
export function chileanYearMonth(now: Date): { year: number; month: number } {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Santiago', year: 'numeric', month: '2-digit' }).formatToParts(now);
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value);
  return { year: get('year'), month: get('month') };
}

interface Page {
  bytes: Uint8Array;
  contentType: string | null;
}

export class SiiMonitor {
  readonly baseUrl: string;
  private readonly fetchFn: FetchFn;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly userAgent: string;
  private readonly sources: readonly SiiSource[];
  private readonly newsYearIndex: boolean;

  constructor(options: SiiMonitorOptions = {}) {
    const baseUrl = options.baseUrl ?? 'https://www.sii.cl';
    if (!/^https?:\/\/[^/]+/.test(baseUrl)) throw new SiiMonitorError('ERR_INPUT_INVALID', `baseUrl must be an http(s) URL, got "${baseUrl}"`, { field: 'baseUrl' });
    for (const [field, v] of [['timeoutMs', options.timeoutMs], ['maxBytes', options.maxBytes], ['retries', options.retries], ['backoffMs', options.backoffMs]] as const) {
      if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw new SiiMonitorError('ERR_INPUT_INVALID', `${field} must be a number ≥ 0`, { field });
    }
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? ((url, init) => fetch(url, init));
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.maxBytes = options.maxBytes ?? 2 * 1024 * 1024;
    this.retries = options.retries ?? 2;
    this.backoffMs = options.backoffMs ?? 1000;
    this.userAgent = options.userAgent ?? DEFAULT_UA;
    this.newsYearIndex = options.newsYearIndex === true;
    this.sources = options.sources ?? SII_SOURCES;
  }

  /** GET a page: retries transient failures; 404 → undefined (the caller decides if that is fine). */
  async fetchPage(url: string): Promise<Page | undefined> {
    let last: unknown;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await sleep(this.backoffMs * 2 ** (attempt - 1));
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(new Error(`timeout after ${this.timeoutMs} ms`)), this.timeoutMs);
      try {
        const res = await this.fetchFn(url, { signal: ac.signal, headers: { 'user-agent': this.userAgent, accept: 'text/html,*/*;q=0.5' } });
        if (res.status === 404) {
          await res.body?.cancel();
          return undefined;
        }
        if (res.status >= 500) {
          await res.body?.cancel();
          last = new Error(`HTTP ${res.status}`);
          continue;
        }
        if (res.status !== 200) {
          await res.body?.cancel();
          throw new SiiMonitorError('ERR_SII_HTTP_STATUS', `${url} answered HTTP ${res.status}`, { url });
        }
        return { bytes: await this.readCapped(res, url), contentType: res.headers.get('content-type') };
      } catch (e) {
        if (e instanceof SiiMonitorError) throw e;
        last = e;
      } finally {
        clearTimeout(timer);
      }
    }
    const reason = last instanceof Error ? last.message : String(last);
    throw new SiiMonitorError('ERR_SII_UNAVAILABLE', `${url} unavailable after ${this.retries + 1} attempts: ${reason}`, { url, cause: last });
  }

  private async readCapped(res: Response, url: string): Promise<Uint8Array> {
    const declared = Number(res.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > this.maxBytes) {
      await res.body?.cancel();
      throw new SiiMonitorError('ERR_SII_PAGE_TOO_LARGE', `${url} is ${declared} bytes, more than ${this.maxBytes}`, { url });
    }
    if (!res.body) return new Uint8Array(0);
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > this.maxBytes) {
        await reader.cancel();
        throw new SiiMonitorError('ERR_SII_PAGE_TOO_LARGE', `${url} is larger than ${this.maxBytes} bytes`, { url });
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks);
  }

  /** The pages one pass reads at `now`: this year's indexes, and last year's too in January. */
  plan(now: Date): Array<{ source: SiiSource; url: string; year?: number; optional: boolean }> {
    const { year, month } = chileanYearMonth(now);
    const years = month === 1 ? [year, year - 1] : [year];
    const out: Array<{ source: SiiSource; url: string; year?: number; optional: boolean }> = [];
    for (const source of this.sources) {
      if (source === 'noticias') {
        out.push({ source, url: noticiasUrl(this.baseUrl), optional: false });
        // The year's news index holds the full list (an `arrayIndice` script array); a 404 only
        // means the landing page is all there is.
        if (this.newsYearIndex) for (const y of years) out.push({ source, url: noticiasYearUrl(this.baseUrl, y), year: y, optional: true });
        continue;
      }
      for (const y of years) {
        const url = source === 'circulares' ? circularesIndexUrl(this.baseUrl, y) : resolucionesIndexUrl(this.baseUrl, y);
        // In January the new year's index may not exist yet: its 404 is "nothing yet", not an error.
        out.push({ source, url, year: y, optional: month === 1 && y === year });
      }
    }
    return out;
  }

  /** One pass: fetch and parse every page, then ask `store` which items are new. */
  async run(input: { now?: Date; store: SeenStore }): Promise<MonitorRun> {
    const now = input.now ?? new Date();
    const sources: SourceReport[] = [];
    const errors: SiiMonitorError[] = [];
    const items: SiiPublication[] = [];
    const pages = await Promise.all(
      this.plan(now).map(async (p) => {
        try {
          const page = await this.fetchPage(p.url);
          if (!page) {
            if (p.optional) return { p, items: [] as SiiPublication[] };
            throw new SiiMonitorError('ERR_SII_HTTP_STATUS', `${p.url} answered HTTP 404`, { url: p.url });
          }
          const parsed =
            p.source === 'noticias'
              ? parseNoticias(page.bytes, { baseUrl: this.baseUrl, pageUrl: p.url, contentType: page.contentType })
              : (p.source === 'circulares' ? parseCircularesIndex : parseResolucionesIndex)(page.bytes, { year: p.year ?? 0, baseUrl: this.baseUrl, pageUrl: p.url, contentType: page.contentType });
          return { p, items: parsed };
        } catch (e) {
          const err = e instanceof SiiMonitorError ? e : new SiiMonitorError('ERR_SII_UNAVAILABLE', `${p.url}: ${(e as Error).message}`, { url: p.url, cause: e });
          return { p, error: err };
        }
      }),
    );
    // The same news item is on the landing page and on the year index: one item per identity.
    const seen = new Set<string>();
    for (const r of pages) {
      if ('items' in r && r.items) {
        r.items = r.items.filter((i) => {
          const key = `${i.tipo}:${i.anio}:${i.numero}`;
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        });
      }
      if ('error' in r && r.error) {
        errors.push(r.error);
        sources.push({ source: r.p.source, url: r.p.url, items: 0, error: { code: r.error.code, message: r.error.message, url: r.p.url } });
      } else if ('items' in r && r.items) {
        items.push(...r.items);
        sources.push({ source: r.p.source, url: r.p.url, items: r.items.length });
      }
    }
    const newItems = items.length > 0 ? await input.store.unseen(items) : [];
    return { items, newItems, sources, errors };
  }
}
