/**
 * A webhook receiver for tests: a real node:http server that verifies every request with the
 * reference verifier (@timbre/webhooks), answers what the test decides, and records everything.
 * (Not a test file itself: imported by the webhooks*.test.ts files.)
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook, WebhookVerificationError, type VerifiedWebhook } from '@timbre/webhooks';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  /** What the receiver answered. */
  status: number;
  verified?: VerifiedWebhook;
  /** The verifier's code when verification failed. */
  error?: string;
  at: number;
}

export class Receiver {
  private server: Server | undefined;
  port = 0;
  readonly requests: ReceivedRequest[] = [];
  /** Path → the subscription secret to verify with. */
  readonly secrets = new Map<string, string>();
  /** Path → the status to answer (default 200). */
  readonly answers = new Map<string, number | ((r: ReceivedRequest) => number)>();

  constructor(private readonly clock: () => Date = () => new Date()) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listen (on `port`, or a free one). */
  async start(port = this.port): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = (req.url ?? '/').split('?')[0] ?? '/';
        const r: ReceivedRequest = { path, headers: req.headers, rawBody: Buffer.concat(chunks), status: 0, at: Date.now() };
        const secret = this.secrets.get(path);
        try {
          if (secret === undefined) throw new Error(`no secret for ${path}`);
          r.verified = verifyWebhook({ secret, headers: req.headers, rawBody: r.rawBody, now: this.clock() });
          const answer = this.answers.get(path) ?? 200;
          r.status = typeof answer === 'function' ? answer(r) : answer;
        } catch (e) {
          r.error = e instanceof WebhookVerificationError ? e.code : String(e);
          r.status = 401;
        }
        this.requests.push(r);
        res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: r.status < 300 }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Requests to `path` that were verified and answered 2xx. */
  accepted(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path && r.verified !== undefined && r.status >= 200 && r.status < 300);
  }

  to(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** Requests the verifier refused (there should be none). */
  refused(): ReceivedRequest[] {
    return this.requests.filter((r) => r.error !== undefined);
  }
}

/** A port nobody listens on (for now), and a pause: shared with the other tests. */
export { freePort, sleep } from './infra.js';

export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

