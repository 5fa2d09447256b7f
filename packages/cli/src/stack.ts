/**
 * The whole local stack in one process (`npm start`): the SII simulator, the DTE service on a
 * fresh SQLite database, the demo company registered with a test certificate and one simulator
 * CAF per document type uploaded, and the AI service (its own SQLite database; Claude when
 * ANTHROPIC_API_KEY is set) — plus a token and a ready-to-paste curl that issues a factura.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signToken } from '@timbre/auth';
import { TIPOS_DTE, generateFixtures } from '@timbre/dte';
import { buildApp as buildAiApp, llmConfigFromEnv, siiMonitorFromEnv } from '@timbre/ai-service';
import { buildApp } from '@timbre/dte-service';
import { createSimulator } from '@timbre/sii-sim';
import { DEFAULT_PERMISSIONS } from './commands/token.js';
import { defaultDataDir, serviceConfig } from './local.js';

export const DEMO_RUT = '76086428-5';
export const DEMO_RAZON_SOCIAL = 'EMPRESA DEMO TIMBRE SPA';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface StackOptions {
  /** Preferred ports; a taken one falls back to a free port. 0 = any free port. */
  servicePort?: number;
  simPort?: number;
  aiPort?: number;
  host?: string;
  /** Secrets (jwt.secret, master.key, as `timbre serve dte`) and the stack database. Default `.tmp`. */
  dataDir?: string;
  /** Simulator: time from upload to the final state. */
  statusDelayMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface IssueRequest {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

export interface Stack {
  serviceUrl: string;
  simUrl: string;
  aiUrl: string;
  /** Every non-admin permission for the demo company, 12 h. */
  token: string;
  /** The factura request and the same as a shell command. */
  request: IssueRequest;
  curl: string;
  notices: string[];
  close(): Promise<void>;
}

/** `preferred` when it can be bound on `host`, else 0 (any free port). */
async function portOrAny(preferred: number, host: string): Promise<number> {
  if (preferred === 0) return 0;
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(0));
    s.listen(preferred, host, () => s.close(() => resolve(preferred)));
  });
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The body of examples/dte/33.json without fecha_emision (the service dates it today). */
export function factura33(): Record<string, unknown> {
  const doc = JSON.parse(readFileSync(path.join(repoRoot, 'examples/dte/33.json'), 'utf8')) as Record<string, unknown>;
  delete doc.fecha_emision;
  return doc;
}

export function toCurl(r: IssueRequest): string {
  return [`curl -sS -X ${r.method} ${shellQuote(r.url)}`, ...Object.entries(r.headers).map(([k, v]) => `-H ${shellQuote(`${k}: ${v}`)}`), `--data-raw ${shellQuote(r.body)}`].join(' \\\n  ');
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? (() => {});
  const host = opts.host ?? '127.0.0.1';
  const dataDir = path.resolve(opts.dataDir ?? defaultDataDir());
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const sim = createSimulator({ host, statusDelayMs: opts.statusDelayMs ?? 1000 });
    const simUrl = await sim.start(await portOrAny(opts.simPort ?? 8090, host));
    closers.push(() => sim.close());
    log(`SII simulator on ${simUrl}`);

    // The simulator forgets everything when it stops (its CAF key included), so the stack's
    // database starts empty every time; the secrets are kept.
    const dbFile = path.join(dataDir, 'stack.db');
    for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}-journal`]) rmSync(f, { force: true });
    const { config, notices } = serviceConfig({ databaseUrl: `sqlite:${dbFile}`, siiEnv: 'sim', siiUrl: simUrl, dataDir, env: {} });
    const app = await buildApp(config);
    closers.push(() => app.close());
    const serviceUrl = await app.listen({ port: await portOrAny(opts.servicePort ?? 8001, host), host });
    log(`DTE service on ${serviceUrl}`);

    // The AI service: same JWT secret (one token for both), its tools read the DTE service above.
    // The SII monitor runs on demand only (POST /api/ai/sii/monitor) unless
    // TIMBRE_SII_MONITOR_INTERVAL_MS says otherwise: a demo should not poll www.sii.cl by itself.
    const aiEnv = { TIMBRE_SII_MONITOR_INTERVAL_MS: '0', ...process.env, TIMBRE_AI_DATABASE_URL: `sqlite:${path.join(dataDir, 'stack-ai.db')}` };
    const llm = llmConfigFromEnv(process.env);
    const ai = await buildAiApp({ jwtKey: config.jwtKey, dteServiceUrl: serviceUrl, ...siiMonitorFromEnv(aiEnv), ...(llm ? { llm } : {}) });
    closers.push(() => ai.close());
    const aiUrl = await ai.listen({ port: await portOrAny(opts.aiPort ?? 8002, host), host });
    log(`AI service on ${aiUrl} (${llm ? `Claude ${llm.model}` : 'deterministic engines; set ANTHROPIC_API_KEY for Claude'})`);

    const token = await signToken({ sub: 'timbre-start', companies: [DEMO_RUT], permissions: DEFAULT_PERMISSIONS }, config.jwtKey, { expiresIn: '12h' });
    const auth = { authorization: `Bearer ${token}` };
    const post = async (p: string, body: unknown, type = 'application/json') => {
      const r = await fetch(`${serviceUrl}${p}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': type },
        body: Buffer.isBuffer(body) ? body : JSON.stringify(body),
      });
      if (r.status !== 201) throw new Error(`POST ${p}: ${r.status} ${await r.text()}`);
    };

    const fchResol = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
    await post('/api/v1/companies', { rut: DEMO_RUT, razon_social: DEMO_RAZON_SOCIAL, nro_resol: 0, fch_resol: fchResol });
    const fx = generateFixtures({ tipos: [33] });
    await post('/api/v1/dte/certificate/upload', { rut_company: DEMO_RUT, p12_base64: fx.p12.toString('base64'), password: fx.p12Password });
    log(`company ${DEMO_RUT} registered with a test certificate (signer ${fx.signerRut})`);
    for (const tipoDte of TIPOS_DTE) {
      const r = await fetch(`${simUrl}/sim/caf`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rutEmisor: DEMO_RUT, razonSocial: DEMO_RAZON_SOCIAL, tipoDte, desde: 1, hasta: 1000 }),
      });
      if (r.status !== 201) throw new Error(`simulator CAF ${tipoDte}: ${r.status} ${await r.text()}`);
      await post('/api/v1/dte/caf/upload', Buffer.from(await r.arrayBuffer()), 'application/xml');
    }
    log(`CAFs (folios 1-1000) for ${TIPOS_DTE.join(', ')} issued by the simulator and uploaded`);

    const request: IssueRequest = {
      url: `${serviceUrl}/api/v1/dte/generate`,
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify(factura33()),
    };
    return { serviceUrl, simUrl, aiUrl, token, request, curl: toCurl(request), notices, close };
  } catch (e) {
    await close();
    throw e;
  }
}
