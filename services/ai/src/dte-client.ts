/**
 * A small HTTP client of the DTE service (port 8001) for the chat tools. It forwards the caller's
 * own credentials (Authorization / X-Api-Key) so that what a tool may read is decided by the DTE
 * service's RBAC, never by this service: the AI service holds no credentials of its own there.
 *
 * Every failure is a `DteClientError` with a stable code (`ERR_DTE_*`) and, for HTTP answers, the
 * DTE service's status and problem detail, so a tool can say "sin permiso" rather than crash.
 */

export type DteClientErrorCode =
  | 'ERR_DTE_UNAUTHORIZED'
  | 'ERR_DTE_FORBIDDEN'
  | 'ERR_DTE_NOT_FOUND'
  | 'ERR_DTE_BAD_REQUEST'
  | 'ERR_DTE_SERVICE'
  | 'ERR_DTE_UNREACHABLE'
  | 'ERR_DTE_TIMEOUT'
  | 'ERR_ABORTED';

export class DteClientError extends Error {
  constructor(
    readonly code: DteClientErrorCode,
    message: string,
    /** The DTE service's HTTP status, when it answered. */
    readonly status?: number,
    /** The DTE service's problem `code` (ERR_AUTH_FORBIDDEN, ERR_NOT_FOUND …), when it sent one. */
    readonly upstreamCode?: string,
  ) {
    super(message);
    this.name = 'DteClientError';
  }
}

/** The caller's credentials, forwarded as received. */
export interface Credentials {
  authorization?: string;
  apiKey?: string;
}

/** `GET /api/v1/dte/:id` and the list's items (services/dte/src/routes/dte.ts `summary`). */
export interface DteSummary {
  id: number;
  rut_emisor: string;
  dte_type: string;
  folio: number;
  status: string;
  sii_status: string | null;
  sii_track_id: string | null;
  error_message: string | null;
  created_at: string;
  updated_at: string;
}

export interface DteList {
  items: DteSummary[];
  next_before: number | null;
}

/** `GET /api/v1/dte/caf/status` (store's cafStatus + listCafs, passed through as the service sends them). */
export interface CafStatusAnswer {
  rut_emisor: string;
  fecha: string;
  tipos: Array<{ tipoDte: number; foliosLeft: number; nextFolio?: number; expiresAt?: string; cafs: unknown[]; warnings: unknown[] }>;
  cafs: Array<{ tipo_dte: number } & Record<string, unknown>>;
}

export interface DteClientOptions {
  /** Base URL of the DTE service (TIMBRE_DTE_URL), e.g. http://127.0.0.1:8001. */
  baseUrl: string;
  /** Per-request timeout (default 5 s): a chat answer must not hang on a slow lookup. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export class DteClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(options: DteClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.fetchFn = options.fetch ?? fetch;
  }

  getDocument(id: number, creds: Credentials, signal?: AbortSignal): Promise<DteSummary> {
    return this.get<DteSummary>(`/api/v1/dte/${id}`, creds, signal);
  }

  listDocuments(q: { rutEmisor: string; dteType?: number; limit?: number; before?: number }, creds: Credentials, signal?: AbortSignal): Promise<DteList> {
    const p = new URLSearchParams({ rut_emisor: q.rutEmisor, limit: String(q.limit ?? 500) });
    if (q.dteType !== undefined) p.set('dte_type', String(q.dteType));
    if (q.before !== undefined) p.set('before', String(q.before));
    return this.get<DteList>(`/api/v1/dte?${p.toString()}`, creds, signal);
  }

  cafStatus(rutEmisor: string, creds: Credentials, signal?: AbortSignal): Promise<CafStatusAnswer> {
    return this.get<CafStatusAnswer>(`/api/v1/dte/caf/status?${new URLSearchParams({ rut_emisor: rutEmisor }).toString()}`, creds, signal);
  }

  private async get<T>(path: string, creds: Credentials, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (creds.authorization !== undefined) headers.authorization = creds.authorization;
    if (creds.apiKey !== undefined) headers['x-api-key'] = creds.apiKey;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    let text: string;
    try {
      res = await this.fetchFn(`${this.base}${path}`, { method: 'GET', headers, signal: combined });
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw new DteClientError('ERR_ABORTED', 'the request was cancelled');
      if (timeout.aborted) throw new DteClientError('ERR_DTE_TIMEOUT', `the DTE service did not answer within ${this.timeoutMs} ms`);
      throw new DteClientError('ERR_DTE_UNREACHABLE', `the DTE service is unreachable (${(err as Error).message})`);
    }
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (res.ok) {
      if (body === undefined) throw new DteClientError('ERR_DTE_SERVICE', `the DTE service answered ${res.status} without JSON`, res.status);
      return body as T;
    }
    const p = (body ?? {}) as { code?: unknown; detail?: unknown };
    const upstream = typeof p.code === 'string' ? p.code : undefined;
    const detail = typeof p.detail === 'string' ? p.detail : `HTTP ${res.status}`;
    const code: DteClientErrorCode =
      res.status === 401 ? 'ERR_DTE_UNAUTHORIZED' : res.status === 403 ? 'ERR_DTE_FORBIDDEN' : res.status === 404 ? 'ERR_DTE_NOT_FOUND' : res.status < 500 ? 'ERR_DTE_BAD_REQUEST' : 'ERR_DTE_SERVICE';
    throw new DteClientError(code, `DTE service: ${detail}`, res.status, upstream);
  }
}
