/**
 * `npm start`'s stack (startStack) on free ports with a temp data dir: the printed curl issues a
 * factura that the simulator accepts; `timbre token` signs with the secret it is given.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AuthError, jwtKeyFrom, verifyToken } from '@timbre/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factura33, startStack, type Stack } from '../src/stack.js';
import { cliPath, timbre, tmpDir } from './helpers.js';

/** The request a `curl -X M 'URL' -H 'k: v' … --data-raw 'BODY'` line makes (single-quoted shell words). */
function parseCurl(cmd: string): { method: string; url: string; headers: Record<string, string>; body: string } {
  const words: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  for (const m of cmd.replace(/\\\n/g, ' ').matchAll(re)) words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : (m[2] as string));
  expect(words[0]).toBe('curl');
  let method = 'GET';
  let url = '';
  let body = '';
  const headers: Record<string, string> = {};
  for (let i = 1; i < words.length; i++) {
    const w = words[i] as string;
    if (w === '-X') method = words[++i] as string;
    else if (w === '-H') {
      const h = words[++i] as string;
      headers[h.slice(0, h.indexOf(':')).trim()] = h.slice(h.indexOf(':') + 1).trim();
    } else if (w === '--data-raw') body = words[++i] as string;
    else if (!w.startsWith('-')) url = w;
  }
  return { method, url, headers, body };
}

describe('the local stack (npm start)', () => {
  let stack: Stack;
  const dataDir = tmpDir('timbre-stack-');
  const lines: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ servicePort: 0, simPort: 0, aiPort: 0, dataDir, statusDelayMs: 200, log: (l) => lines.push(l) });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('serves the API docs and creates its secrets under the data dir', async () => {
    expect(stack.serviceUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.serviceUrl).not.toMatch(/:8001$/);
    expect((await fetch(`${stack.serviceUrl}/docs/json`)).status).toBe(200);
    expect(existsSync(path.join(dataDir, 'jwt.secret'))).toBe(true);
    expect(existsSync(path.join(dataDir, 'master.key'))).toBe(true);
    // The token is signed with the stack's secret file: `timbre token` can mint more.
    const p = await verifyToken(stack.token, jwtKeyFrom(readFileSync(path.join(dataDir, 'jwt.secret'), 'utf8')));
    expect(p.companies).toEqual(['76086428-5']);
    expect(lines.join('\n')).toContain('CAFs');
  });

  it('the printed curl issues folio 1, sent; the status then becomes accepted', async () => {
    const req = parseCurl(stack.curl);
    expect(req.url).toBe(`${stack.serviceUrl}/api/v1/dte/generate`);
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const doc = JSON.parse(text) as Record<string, unknown>;
    expect(doc).toMatchObject({ folio: 1, dte_type: '33', status: 'sent', errors: [] });
    expect(doc.sii_track_id).toMatch(/^\d+$/);

    let status: Record<string, unknown> = {};
    for (let i = 0; i < 40 && status.status !== 'accepted'; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      const s = await fetch(`${stack.serviceUrl}/api/v1/dte/status?rut_emisor=76086428-5&dte_type=33&folio=1`, { headers: { authorization: `Bearer ${stack.token}` } });
      expect(s.status).toBe(200);
      status = (await s.json()) as Record<string, unknown>;
    }
    expect(status).toMatchObject({ status: 'accepted', folio: 1 });
  });

  it('has a CAF for every document type', async () => {
    const s = await fetch(`${stack.serviceUrl}/api/v1/dte/caf/status?rut_emisor=76086428-5`, { headers: { authorization: `Bearer ${stack.token}` } });
    const json = (await s.json()) as { tipos: Array<{ tipoDte: number }> };
    expect(json.tipos.map((t) => t.tipoDte).sort((a, b) => a - b)).toEqual([33, 34, 39, 41, 43, 46, 52, 56, 61, 110, 111, 112]);
  });

  it('runs the AI service with the same token; its chat reads the DTE service (offline engine)', async () => {
    expect(stack.aiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.aiUrl).not.toBe(stack.serviceUrl);
    expect(((await (await fetch(`${stack.aiUrl}/ready`)).json()) as { status: string }).status).toBe('ready');
    const auth = { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' };
    const chat = await fetch(`${stack.aiUrl}/api/ai/sii/chat`, {
      method: 'POST',
      headers: { ...auth, accept: 'application/json' },
      body: JSON.stringify({ message: '¿Cuántos folios de factura 33 me quedan en el CAF?', company_rut: '76086428-5', stream: false }),
    });
    const text = await chat.text();
    expect(chat.status, text).toBe(200);
    const answer = JSON.parse(text) as { engine: string; answer: string; tools_used: unknown[] };
    expect(answer.engine).toBe('retrieval');
    expect(JSON.stringify(answer.tools_used)).toContain('estado_cafs');
    // The demo's CAFs are 1..1000; the answer quotes what the DTE service says.
    expect(answer.answer).toMatch(/\b(999|1000|1\.000)\b/);
    const pv = await fetch(`${stack.aiUrl}/api/v1/ai/prevalidate`, { method: 'POST', headers: auth, body: JSON.stringify({ dte_data: { ...factura33(), fecha_emision: new Date().toISOString().slice(0, 10) } }) });
    const verdict = (await pv.json()) as { is_valid: boolean; issues: Array<{ code: string }> };
    expect(pv.status).toBe(200);
    expect(verdict.is_valid, JSON.stringify(verdict.issues)).toBe(true);
  });
});

describe('timbre token', () => {
  const secret = randomBytes(32).toString('hex');

  it('prints a JWT for the company, every non-admin permission by default', async () => {
    const r = timbre(['token', '--company', '76086428-5', '--secret', secret]);
    expect(r.status, r.stderr).toBe(0);
    const p = await verifyToken(r.stdout.trim(), jwtKeyFrom(secret));
    expect(p.companies).toEqual(['76086428-5']);
    expect([...p.permissions].sort()).toEqual(['ai:use', 'caf:manage', 'cert:manage', 'dte:generate', 'dte:read', 'dte:respond']);
    expect(p.dteTypes).toBeUndefined();
    await expect(verifyToken(r.stdout.trim(), jwtKeyFrom(randomBytes(32).toString('hex')))).rejects.toBeInstanceOf(AuthError);
  });

  it('narrows permissions and document types', async () => {
    const r = timbre(['token', '--company', '76086428-5', '--secret', secret, '--permissions', 'dte:read', '--dte-types', '33,61', '--expires', '1h']);
    expect(r.status, r.stderr).toBe(0);
    const p = await verifyToken(r.stdout.trim(), jwtKeyFrom(secret));
    expect(p).toMatchObject({ permissions: ['dte:read'], dteTypes: [33, 61] });
  });

  it('signs with the data dir secret file, and fails with exit 2 without any secret', async () => {
    const cwd = tmpDir('timbre-token-');
    const env = { TIMBRE_JWT_SECRET: '' };
    const none = timbre(['token', '--company', '76086428-5'], { cwd, env });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('jwt.secret');
    const fileSecret = randomBytes(32).toString('hex');
    mkdirSync(path.join(cwd, '.tmp'));
    writeFileSync(path.join(cwd, '.tmp', 'jwt.secret'), `${fileSecret}\n`);
    const r = timbre(['token', '--company', '76086428-5'], { cwd, env });
    expect(r.status, r.stderr).toBe(0);
    expect((await verifyToken(r.stdout.trim(), jwtKeyFrom(fileSecret))).companies).toEqual(['76086428-5']);
    const bad = timbre(['token', '--company', '1-2', '--secret', secret]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('RUT');
  });
});

describe('timbre serve dte', () => {
  it('listens with embedded defaults: SQLite, master key and JWT secret under .tmp', async () => {
    const cwd = tmpDir('timbre-serve-');
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
    for (const k of ['TIMBRE_JWT_SECRET', 'TIMBRE_MASTER_KEY', 'DATABASE_URL', 'SII_ENV', 'SII_URL'] as const) delete env[k];
    const child = spawn(process.execPath, [cliPath, 'serve', 'dte', '--port', '0', '--host', '127.0.0.1'], { cwd, env });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1] as string);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect(out).toContain(path.join(cwd, '.tmp', 'jwt.secret'));
      for (const f of ['jwt.secret', 'master.key', 'timbre.db']) expect(existsSync(path.join(cwd, '.tmp', f))).toBe(true);
      // A token from `timbre token` (same directory, no secret given) is accepted by the service.
      const t = timbre(['token', '--company', '76086428-5'], { cwd, env: { TIMBRE_JWT_SECRET: '' } });
      expect(t.status, t.stderr).toBe(0);
      const list = await fetch(`${url}/api/v1/dte?rut_emisor=76086428-5`, { headers: { authorization: `Bearer ${t.stdout.trim()}` } });
      expect(list.status).toBe(200);
      const anon = await fetch(`${url}/api/v1/dte?rut_emisor=76086428-5`);
      expect(anon.status).toBe(401);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
    }
  });
});
