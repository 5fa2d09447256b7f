/**
 * `createSimulator(options)` → `{ app, start, close, state }`: builds the Fastify app around the
 * simulator plugin with its own SII key, clock, ids and in-memory state.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { loadTrustedKeys, Rut } from '@timbre/dte';
import Fastify, { type FastifyInstance } from 'fastify';
import { siiSimulator, type AppContext } from './app.js';
import { IdSource, ShiftedClock, systemClock } from './clock.js';
import { resolveConfig, SIM_DEFAULT_IDK, type ResolvedConfig, type SimulatorOptions } from './config.js';
import { parseFaultRule } from './faults.js';
import { SimState } from './state.js';
import { XsdValidator } from './xsd.js';

export interface Simulator {
  /** The Fastify instance (usable with `inject` after `await app.ready()`). */
  app: FastifyInstance;
  /** Listen on `port` (default: the configured one; 0 = any free port); resolves to the base URL. */
  start(port?: number): Promise<string>;
  /** Stop listening (held `timeout` requests are released, their sockets destroyed). */
  close(): Promise<void>;
  /** The simulator's memory (envíos, documents, CAFs, tokens, faults…). */
  state: SimState;
  /** The simulator's SII key: the IDK and public key to trust for its CAFs. */
  trust: { idk: number; publicKeyPem: string };
  /** The clock as the simulator sees it, with `offsetMs` moved by `POST /sim/clock`. */
  clock: ShiftedClock;
  config: ResolvedConfig;
  /** Base URL once started. */
  readonly url: string | undefined;
}

/**
 * Create an SII simulator.
 *
 * @example
 * ```ts
 * const sim = createSimulator({ statusDelayMs: 0 });
 * const url = await sim.start(0); // http://127.0.0.1:41234
 * // … point the client at `url`, get CAFs from POST `${url}/sim/caf` …
 * await sim.close();
 * ```
 */
export function createSimulator(options: SimulatorOptions = {}): Simulator {
  const config = resolveConfig(options);
  let privateKey: KeyObject;
  let idk = options.idk ?? SIM_DEFAULT_IDK;
  if (options.siiKey) {
    privateKey = createPrivateKey(options.siiKey.privateKeyPem.slice(Math.max(0, options.siiKey.privateKeyPem.indexOf('-----BEGIN'))));
    idk = options.siiKey.idk ?? idk;
  } else {
    privateKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  }
  if (!Number.isSafeInteger(idk)) throw new TypeError(`createSimulator: idk ${idk} is not an integer`);
  const publicKey = createPublicKey(privateKey);
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;

  const state = new SimState({ idk, privateKey, publicKey });
  if (options.trustedKeys) {
    const extra = options.trustedKeys instanceof Map ? options.trustedKeys : loadTrustedKeys(options.trustedKeys);
    for (const [k, v] of extra) state.trustedKeys.set(k, v);
  }
  for (const [rut, c] of Object.entries(options.companies ?? {})) {
    state.companies.set(Rut.parse(rut).canonical, {
      ...(c.authorizedSigners ? { authorizedSigners: c.authorizedSigners.map((s) => Rut.parse(s).canonical) } : {}),
    });
  }
  const ids = new IdSource(options.seed);
  (options.faults ?? []).forEach((f, i) => state.faults.push(parseFaultRule(f, `config${i + 1}`)));

  const clock = new ShiftedClock(options.clock ?? systemClock);
  const ctx: AppContext = {
    state,
    config,
    clock,
    ids,
    xsd: new XsdValidator(config.schemasDir),
    publicKeyPem,
    started: clock.now(),
    held: new Set(),
  };

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: config.maxUploadBytes + 1024 * 1024,
    forceCloseConnections: true,
  });
  void app.register(siiSimulator, { ctx });

  let url: string | undefined;
  return {
    app,
    state,
    clock,
    config,
    trust: { idk, publicKeyPem },
    get url() {
      return url;
    },
    async start(port?: number) {
      await ctx.xsd.load();
      const address = await app.listen({ port: port ?? config.port, host: config.host });
      url = address.replace('[::1]', '127.0.0.1');
      return url;
    },
    async close() {
      await app.close();
      url = undefined;
    },
  };
}
