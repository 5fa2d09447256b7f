/**
 * compose.yaml, Dockerfile and .dockerignore at the repository root, checked without Docker: the
 * variables given to each container are ones its entry point reads, the healthcheck uses /ready,
 * and what the Dockerfile runs exists after `npm run build`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = new URL('../../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

/** Variables set in compose that server.ts does not read yet; drop an entry when its reader exists. */
const PENDING_ISSUE_5: string[] = [];

/** Environment variable names a source file reads: `env.X`, `env['X']`, or a literal handed to a helper (`ms('X')`). */
function envNamesRead(source: string): Set<string> {
  const names = new Set<string>();
  for (const m of source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(m[1]!);
  for (const m of source.matchAll(/\benv\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]/g)) names.add(m[1]!);
  for (const m of source.matchAll(/['"]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)['"]/g)) names.add(m[1]!);
  return names;
}

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: { test: string[] };
}

const compose = parse(read('compose.yaml')) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const dockerfile = read('Dockerfile');

describe('compose.yaml', () => {
  it('has postgres 16, rabbitmq 3 with management, redis 7, the simulator behind a profile, dte and ai', () => {
    expect(Object.keys(services).sort()).toEqual(['ai', 'dte', 'postgres', 'rabbitmq', 'redis', 'sii-sim']);
    expect(services.postgres!.image).toMatch(/^postgres:16\b/);
    expect(services.rabbitmq!.image).toMatch(/^rabbitmq:3[.\d]*-management\b/);
    expect(services.redis!.image).toMatch(/^redis:7\b/);
    expect(services['sii-sim']!.profiles).toEqual(['sim']);
    expect(services.dte!.profiles).toBeUndefined();
    expect(services.dte!.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
  });

  it('gives dte only variables server.ts reads', () => {
    // server.ts and the env readers of @timbre/http it calls (PORT/HOST, RATE_LIMIT_*).
    const names = new Set(['services/dte/src/server.ts', 'packages/http/src/rate-limit.ts'].flatMap((f) => [...envNamesRead(read(f))]));
    for (const n of ['PORT', 'HOST']) names.add(n);
    const env = Object.keys(services.dte!.environment ?? {});
    expect(env).toEqual(expect.arrayContaining(['DATABASE_URL', 'TIMBRE_MASTER_KEY', 'TIMBRE_JWT_SECRET', 'SII_ENV', 'SII_URL', 'QUEUE_URL', 'REDIS_URL']));
    const unknown = env.filter((name) => !names.has(name) && !PENDING_ISSUE_5.includes(name));
    expect(unknown, `set in compose.yaml but never read by services/dte/src/server.ts`).toEqual([]);
    // Tripwire: when server.ts starts reading one of them, update PENDING_ISSUE_5 and the comments in compose.yaml.
    const nowRead = PENDING_ISSUE_5.filter((name) => names.has(name));
    expect(nowRead, 'server.ts reads these now: drop them from PENDING_ISSUE_5 and from the "not read yet" comment in compose.yaml').toEqual([]);
    // The secrets come from the operator, never from the file.
    for (const name of ['TIMBRE_MASTER_KEY', 'TIMBRE_JWT_SECRET']) expect(services.dte!.environment![name]).toMatch(/^\$\{[A-Z_]+:\?/);
    expect(services.dte!.environment!.DATABASE_URL).toMatch(/^postgres:\/\/timbre:\$\{POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432\/timbre$/);
  });

  it('gives ai only variables its server reads (server.ts and the env readers it calls)', () => {
    const names = new Set(
      ['services/ai/src/server.ts', 'services/ai/src/monitor/env.ts', 'services/ai/src/config.ts', 'packages/http/src/rate-limit.ts'].filter((f) => existsSync(new URL(f, root))).flatMap((f) => [...envNamesRead(read(f))]),
    );
    for (const n of ['PORT', 'HOST']) names.add(n); // read by listenAddress (@timbre/http); the image's ENV says 8001
    const env = Object.keys(services.ai!.environment ?? {});
    expect(env).toEqual(expect.arrayContaining(['TIMBRE_JWT_SECRET', 'TIMBRE_AI_DATABASE_URL', 'TIMBRE_DTE_URL', 'ANTHROPIC_API_KEY', 'ODOO_WEBHOOK_URL', 'TIMBRE_AI_WEBHOOK_SECRET']));
    expect(env.filter((name) => !names.has(name))).toEqual([]);
    expect(services.ai!.environment!.TIMBRE_JWT_SECRET).toMatch(/^\$\{[A-Z_]+:\?/);
    expect(services.ai!.command).toEqual(['node', 'services/ai/dist/server.js']);
    expect(existsSync(new URL('services/ai/dist/server.js', root))).toBe(true);
    expect(services.ai!.healthcheck!.test.join(' ')).toContain('http://127.0.0.1:8002/ready');
    expect(services.ai!.depends_on!.postgres).toEqual({ condition: 'service_healthy' });
  });

  it('gives sii-sim only variables its server reads', () => {
    const names = envNamesRead(read('packages/sii-sim/src/server.ts'));
    const env = Object.keys(services['sii-sim']!.environment ?? {});
    expect(env.filter((name) => !names.has(name))).toEqual([]);
  });

  it('checks dte health on /ready and starts it after a healthy database', () => {
    const test = services.dte!.healthcheck!.test.join(' ');
    expect(test).toContain('http://127.0.0.1:8001/ready');
    expect(services.dte!.depends_on!.postgres).toEqual({ condition: 'service_healthy' });
    expect(services.dte!.depends_on!['sii-sim']).toMatchObject({ required: false });
    for (const name of ['postgres', 'rabbitmq', 'redis', 'sii-sim']) expect(services[name]!.healthcheck, name).toBeDefined();
  });

  it('declares the named volumes it mounts', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/')) expect(declared, `${name}: ${v}`).toContain(source);
      }
    }
    expect(declared.sort()).toEqual(['pgdata', 'rabbitmq', 'redis']);
  });
});

describe('Dockerfile and .dockerignore', () => {
  it('builds on node:20-bookworm-slim with the XML tools, npm ci and npm run build', () => {
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(froms.length).toBeGreaterThan(0);
    for (const f of froms) expect(f).toBe('node:20-bookworm-slim');
    expect(dockerfile).toMatch(/apt-get install[^\n]*libxml2-utils[^\n]*xmlsec1/);
    expect(dockerfile).toMatch(/\bnpm ci\b/);
    expect(dockerfile).toMatch(/\bnpm run build\b/);
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
  });

  it('runs a file that exists after the build, for dte and for the simulator', () => {
    const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(dockerfile);
    expect(cmd, 'CMD in exec (JSON) form').not.toBeNull();
    const argv = JSON.parse(cmd![1]!) as string[];
    expect(argv).toEqual(['node', 'services/dte/dist/server.js']);
    expect(existsSync(new URL(argv[1]!, root)), `${argv[1]} (run npm run build)`).toBe(true);
    const sim = services['sii-sim']!.command!;
    expect(sim[0]).toBe('node');
    expect(existsSync(new URL(sim[1]!, root)), sim[1]).toBe(true);
  });

  it('.dockerignore keeps build output and secrets out, and the sources in', () => {
    const rules = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(rules).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '**/*.tsbuildinfo', '.git', '.tmp']));
    // dist without its tsbuildinfo (or the reverse) would make `tsc -b` skip the build.
    expect(rules.includes('**/dist')).toBe(rules.includes('**/*.tsbuildinfo'));
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.base.json', 'packages', 'services']) {
      expect(rules.some((r) => r === needed || r === `/${needed}` || r === `${needed}/`), needed).toBe(false);
    }
  });
});
