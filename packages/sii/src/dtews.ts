/**
 * The DTEWS SOAP services (CrSeed, GetTokenFromSeed, QueryEstUp, QueryEstDte) share one call shape:
 * SOAP 1.1 RPC with an empty SOAPAction, idempotent, the answer parsed only after an HTTP check.
 */
import { withAttempts, type SiiOperation } from './errors.js';
import type { SiiTransport } from './transport.js';
import { assertHttpOk } from './wire.js';

export const DTEWS_SOAP_HEADERS = { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '""', Accept: 'text/xml, */*' };

/** POST one DTEWS envelope and parse its answer; errors carry the attempts made. */
export async function callDtews<T>(
  transport: SiiTransport,
  operation: SiiOperation,
  url: string,
  envelope: string,
  parse: (body: Buffer, contentType: string) => T,
): Promise<T> {
  const res = await transport.request({
    operation,
    method: 'POST',
    url,
    headers: DTEWS_SOAP_HEADERS,
    body: Buffer.from(envelope, 'utf8'),
    expect: 'xml',
    idempotent: true,
  });
  return withAttempts(res.attempts, () => {
    assertHttpOk(res, operation, true);
    return parse(res.body, res.contentType);
  });
}
