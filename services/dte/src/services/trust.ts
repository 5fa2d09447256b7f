/**
 * The SII keys the service trusts (CAF signatures): `config.sii.cafTrustedKeys` when set; in `sim`
 * without them, the simulator's key from `{SII_URL}/sim/trust` (read once; a failure is retried on
 * the next call); otherwise none (CAFs are stored unverified, received TEDs reported unverified).
 */
import type { KeyObject } from 'node:crypto';
import { loadTrustedKeys } from '@timbre/dte';
import type { AppConfig } from '../config.js';
import { ServiceError } from '../problems.js';

export type TrustedKeys = () => Promise<Map<number, KeyObject> | undefined>;

export function siiTrust(config: AppConfig): TrustedKeys {
  let trusted: Promise<Map<number, KeyObject> | undefined> | undefined;
  return () => {
    trusted ??= (async () => {
      if (config.sii.cafTrustedKeys) return loadTrustedKeys(config.sii.cafTrustedKeys);
      if (config.sii.environment === 'sim' && config.sii.url) {
        const res = await fetch(new URL('/sim/trust', config.sii.url));
        if (!res.ok) throw new ServiceError('ERR_SII_SEND_FAILED', 503, 'the simulator did not give its CAF key');
        const t = (await res.json()) as { idk: number; publicKeyPem: string };
        return loadTrustedKeys([{ idk: t.idk, pem: t.publicKeyPem }]);
      }
      return undefined;
    })().catch((e: unknown) => {
      trusted = undefined;
      throw e;
    });
    return trusted;
  };
}
