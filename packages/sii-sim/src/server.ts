/**
 * Run the simulator as a process: `node packages/sii-sim/dist/server.js [--port 8090] [--host
 * 127.0.0.1] [--schemas DIR] [--status-delay-ms 1000] [--token-ttl-ms 3600000] [--seed S]
 * [--trusted-key IDK=PEMFILE]… [--sii-key IDK=PEMFILE]`. Environment variables SII_SIM_PORT,
 * SII_SIM_HOST, SII_SIM_SCHEMAS, SII_SIM_STATUS_DELAY_MS, SII_SIM_TOKEN_TTL_MS, SII_SIM_SEED give
 * the same settings. Logs go to stdout (pretty enough as JSON lines).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createSimulator } from './simulator.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    schemas: { type: 'string' },
    'status-delay-ms': { type: 'string' },
    'token-ttl-ms': { type: 'string' },
    seed: { type: 'string' },
    'trusted-key': { type: 'string', multiple: true },
    'sii-key': { type: 'string' },
    quiet: { type: 'boolean' },
  },
});

const env = process.env;
const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));
const keyArg = (s: string): { idk: number; pem: string } => {
  const eq = s.indexOf('=');
  if (eq < 1) throw new Error(`expected IDK=PEMFILE, got ${s}`);
  return { idk: Number(s.slice(0, eq)), pem: readFileSync(s.slice(eq + 1), 'utf8') };
};

const schemasDir = values.schemas ?? env.SII_SIM_SCHEMAS;
const seed = values.seed ?? env.SII_SIM_SEED;
const port = num(values.port ?? env.SII_SIM_PORT);
const host = values.host ?? env.SII_SIM_HOST;
const statusDelayMs = num(values['status-delay-ms'] ?? env.SII_SIM_STATUS_DELAY_MS);
const tokenTtlMs = num(values['token-ttl-ms'] ?? env.SII_SIM_TOKEN_TTL_MS);
const siiKey = values['sii-key'] ? keyArg(values['sii-key']) : undefined;

const sim = createSimulator({
  ...(port !== undefined ? { port } : {}),
  ...(host ? { host } : {}),
  ...(schemasDir ? { schemasDir } : {}),
  ...(statusDelayMs !== undefined ? { statusDelayMs } : {}),
  ...(tokenTtlMs !== undefined ? { tokenTtlMs } : {}),
  ...(seed ? { seed } : {}),
  ...(values['trusted-key'] ? { trustedKeys: values['trusted-key'].map(keyArg) } : {}),
  ...(siiKey ? { siiKey: { idk: siiKey.idk, privateKeyPem: siiKey.pem } } : {}),
  logger: values.quiet ? false : { level: 'info' },
});

const url = await sim.start();
process.stdout.write(`SII simulator listening on ${url} (IDK ${sim.trust.idk}; GET ${url}/sim/trust for its key)\n`);
const stop = async () => {
  await sim.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
