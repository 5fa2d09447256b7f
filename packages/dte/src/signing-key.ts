/**
 * The key material needed to produce an SII XMLDSig signature: the RSA private key (as a
 * node:crypto KeyObject, created once, reused for every signature), the certificate, and the
 * public key parts written into KeyInfo/KeyValue.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { TimbreError } from './errors.js';

export interface SigningKey {
  privateKey: KeyObject;
  /** DER bytes of the signer's X.509 certificate (X509Data/X509Certificate). */
  certificateDer: Buffer;
  /** Base64 of the RSA modulus, big-endian, no leading zero byte (KeyValue/RSAKeyValue/Modulus). */
  modulusB64: string;
  /** Base64 of the RSA public exponent (KeyValue/RSAKeyValue/Exponent), e.g. `AQAB`. */
  exponentB64: string;
}

/** Build a SigningKey from PEM strings (private key in PKCS#1 or PKCS#8, certificate). */
export function signingKeyFromPem(privateKeyPem: string, certificatePem: string): SigningKey {
  const privateKey = createPrivateKey(privateKeyPem);
  const cert = new X509Certificate(certificatePem);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as { n: string; e: string };
  const certJwk = cert.publicKey.export({ format: 'jwk' }) as { n?: string; e?: string };
  // A mismatched pair signs documents the SII rejects (firma inválida): refuse it here.
  if (certJwk.n !== jwk.n || certJwk.e !== jwk.e) {
    throw new TimbreError('ERR_CERT_MALFORMED', 'the private key does not belong to the certificate');
  }
  return {
    privateKey,
    certificateDer: Buffer.from(cert.raw),
    modulusB64: Buffer.from(jwk.n, 'base64url').toString('base64'),
    exponentB64: Buffer.from(jwk.e, 'base64url').toString('base64'),
  };
}
