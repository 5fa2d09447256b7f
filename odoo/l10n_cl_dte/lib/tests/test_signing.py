"""Webhook signature verification (lib/signing.py), cross-checked with the TypeScript reference."""
import json
import os
import shutil
import subprocess
import unittest

from ..signing import (HEADER_DELIVERY, HEADER_EVENT, HEADER_SIGNATURE, HEADER_TIMESTAMP, WebhookError,
                       get_header, parse_signature_header, sign_webhook, verify_webhook, webhook_headers)

SECRET = 'whsec_test-secret-0123456789abcdefghijklmnopqrstuv'
OTHER = 'whsec_other-secret-0123456789abcdefghijklmnopqrstu'
NOW = 1_764_000_000
BODY = json.dumps({'event': 'dte.status_changed', 'dte_type': '33', 'folio': 120, 'rut_emisor': '76086428-5',
                   'new_status': 'accepted', 'razón': 'Señal ñandú'}, ensure_ascii=False).encode('utf-8')
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
WEBHOOKS_DIST = os.path.join(REPO, 'packages', 'webhooks', 'dist', 'index.js')


def headers(body=BODY, secret=SECRET, ts=NOW, **extra):
    h = {
        'Content-Type': 'application/json',
        HEADER_EVENT: 'dte.status_changed',
        HEADER_DELIVERY: 'dlv_1',
        HEADER_TIMESTAMP: str(ts),
        HEADER_SIGNATURE: sign_webhook(secret, ts, body),
    }
    h.update(extra)
    return h


class TestVerify(unittest.TestCase):
    def assertRefused(self, code, status, **kwargs):
        args = {'headers': headers(), 'raw_body': BODY, 'secret': SECRET, 'now': NOW}
        args.update(kwargs)
        with self.assertRaises(WebhookError) as cm:
            verify_webhook(**args)
        self.assertEqual(cm.exception.code, code)
        self.assertEqual(cm.exception.status, status)
        return cm.exception

    def test_valid(self):
        payload = verify_webhook(headers(), BODY, SECRET, now=NOW)
        self.assertEqual(payload['folio'], 120)
        self.assertEqual(payload['razón'], 'Señal ñandú')

    def test_signature_format(self):
        sig = sign_webhook(SECRET, NOW, BODY)
        self.assertRegex(sig, r'^v1=[0-9a-f]{64}$')
        self.assertEqual(sig, sign_webhook(SECRET, str(NOW), BODY.decode('utf-8')))

    def test_headers_case_insensitive(self):
        lower = {k.lower(): v for k, v in headers().items()}
        self.assertEqual(verify_webhook(lower, BODY, SECRET, now=NOW)['folio'], 120)

    def test_werkzeug_like_items(self):
        class Headers:
            def __init__(self, pairs):
                self.pairs = pairs

            def items(self):
                return iter(self.pairs)
        h = Headers(list(headers().items()))
        self.assertEqual(verify_webhook(h, BODY, SECRET, now=NOW)['folio'], 120)

    def test_tampered_body(self):
        self.assertRefused('ERR_SIGNATURE_INVALID', 401, raw_body=BODY.replace(b'accepted', b'rejected'))

    def test_tampered_timestamp(self):
        h = headers()
        h[HEADER_TIMESTAMP] = str(NOW + 1)
        self.assertRefused('ERR_SIGNATURE_INVALID', 401, headers=h, now=NOW + 1)

    def test_wrong_secret(self):
        self.assertRefused('ERR_SIGNATURE_INVALID', 401, secret=OTHER)

    def test_rotation_two_secrets_in_header(self):
        h = webhook_headers([OTHER, SECRET], BODY, 'dte.status_changed', 'dlv_2', now=NOW)
        self.assertEqual(len(parse_signature_header(h[HEADER_SIGNATURE])), 2)
        self.assertEqual(verify_webhook(h, BODY, SECRET, now=NOW)['folio'], 120)
        self.assertEqual(verify_webhook(h, BODY, OTHER, now=NOW)['folio'], 120)

    def test_rotation_two_secrets_at_receiver(self):
        self.assertEqual(verify_webhook(headers(), BODY, [OTHER, SECRET], now=NOW)['folio'], 120)
        self.assertEqual(verify_webhook(headers(), BODY, [SECRET, ''], now=NOW)['folio'], 120)
        self.assertRefused('ERR_SIGNATURE_INVALID', 401, secret=[OTHER, 'whsec_third-one-xxxxxxxxxxxxxxxxxxxxxxxx'])

    def test_other_schemes_ignored(self):
        h = headers()
        h[HEADER_SIGNATURE] = 'v0=abc, ' + h[HEADER_SIGNATURE] + ' ,v2=zzz'
        self.assertEqual(verify_webhook(h, BODY, SECRET, now=NOW)['folio'], 120)
        h[HEADER_SIGNATURE] = 'v0=' + sign_webhook(SECRET, NOW, BODY)[3:]
        self.assertRefused('ERR_SIGNATURE_MISSING', 401, headers=h)

    def test_malformed_hex_is_invalid(self):
        h = headers()
        h[HEADER_SIGNATURE] = 'v1=not-hex'
        self.assertRefused('ERR_SIGNATURE_INVALID', 401, headers=h)
        h[HEADER_SIGNATURE] = h[HEADER_SIGNATURE] + ',' + sign_webhook(SECRET, NOW, BODY)[:-2]
        self.assertRefused('ERR_SIGNATURE_INVALID', 401, headers=h)

    def test_stale_timestamp(self):
        exc = self.assertRefused('ERR_TIMESTAMP_OUT_OF_WINDOW', 401, now=NOW + 301)
        self.assertIn('301', exc.message)
        self.assertEqual(verify_webhook(headers(), BODY, SECRET, now=NOW + 300)['folio'], 120)

    def test_future_timestamp(self):
        self.assertRefused('ERR_TIMESTAMP_OUT_OF_WINDOW', 401, now=NOW - 301)
        self.assertEqual(verify_webhook(headers(), BODY, SECRET, now=NOW - 300)['folio'], 120)
        # The clock is read in whole seconds (floor), as the reference's unixSeconds().
        self.assertEqual(verify_webhook(headers(), BODY, SECRET, now=NOW + 300.9)['folio'], 120)
        self.assertRefused('ERR_TIMESTAMP_OUT_OF_WINDOW', 401, now=NOW - 300.5)

    def test_custom_tolerance(self):
        self.assertRefused('ERR_TIMESTAMP_OUT_OF_WINDOW', 401, now=NOW + 11, tolerance=10)

    def test_signature_checked_before_window(self):
        # A forged request with an old timestamp is "invalid", not "out of window".
        h = headers(secret=OTHER, ts=NOW - 10_000)
        self.assertRefused('ERR_SIGNATURE_INVALID', 401, headers=h)

    def test_missing_signature(self):
        h = headers()
        del h[HEADER_SIGNATURE]
        self.assertRefused('ERR_SIGNATURE_MISSING', 401, headers=h)
        h[HEADER_SIGNATURE] = ''
        self.assertRefused('ERR_SIGNATURE_MISSING', 401, headers=h)

    def test_missing_or_bad_timestamp(self):
        h = headers()
        del h[HEADER_TIMESTAMP]
        self.assertRefused('ERR_TIMESTAMP_INVALID', 401, headers=h)
        for bad in ('', '17640000.5', '-5', 'abc', '1' * 16):
            h[HEADER_TIMESTAMP] = bad
            self.assertRefused('ERR_TIMESTAMP_INVALID', 401, headers=h)

    def test_non_json_body(self):
        body = b'not json'
        self.assertRefused('ERR_BODY_INVALID', 400, headers=headers(body=body), raw_body=body)
        body = b'[1, 2]'
        self.assertRefused('ERR_BODY_INVALID', 400, headers=headers(body=body), raw_body=body)
        body = b'\xff\xfe'
        self.assertRefused('ERR_BODY_INVALID', 400, headers=headers(body=body), raw_body=body)

    def test_no_secret_configured(self):
        with self.assertRaises(ValueError):
            verify_webhook(headers(), BODY, '', now=NOW)
        with self.assertRaises(ValueError):
            verify_webhook(headers(), BODY, [], now=NOW)

    def test_raw_bytes_not_reserialized(self):
        # Same JSON, different bytes (spacing): the signature covers the bytes.
        other = json.dumps(json.loads(BODY), ensure_ascii=True).encode()
        self.assertNotEqual(other, BODY)
        self.assertRefused('ERR_SIGNATURE_INVALID', 401, raw_body=other)

    def test_get_header_joins_repeats(self):
        self.assertEqual(get_header({'X-A': ['1', '2'], 'x-a': '3'}, 'x-a'), '1,2,3')
        self.assertIsNone(get_header({}, 'x-a'))

    def test_secret_not_in_messages(self):
        exc = self.assertRefused('ERR_SIGNATURE_INVALID', 401, secret=OTHER)
        self.assertNotIn(OTHER, repr(exc) + str(exc))


@unittest.skipUnless(shutil.which('node') and os.path.exists(WEBHOOKS_DIST),
                     'node or packages/webhooks/dist (npm run build) not available')
class TestCrossCheckTypeScript(unittest.TestCase):
    """The Python signer and verifier agree with packages/webhooks (the DTE service's code)."""

    def node(self, script, *args):
        env = dict(os.environ, WEBHOOKS_DIST='file://' + WEBHOOKS_DIST)
        out = subprocess.run(['node', '--input-type=module', '-e', script, *args], capture_output=True, env=env,
                             timeout=60, check=True)
        return out.stdout.decode('utf-8').strip()

    def test_node_signature_verifies_in_python(self):
        script = ("const m = await import(process.env.WEBHOOKS_DIST);"
                  "const body = Buffer.from(process.argv[2], 'base64');"
                  "const h = m.webhookHeaders({event: 'dte.status_changed', deliveryId: 'd1',"
                  " secret: [process.argv[1], 'whsec_other-secret-0123456789abcdefghijklmnopqrstu'], body,"
                  " now: Number(process.argv[3]) * 1000});"
                  "console.log(JSON.stringify({h, one: m.signPayload({secret: process.argv[1], timestamp: process.argv[3], body})}));")
        import base64
        out = json.loads(self.node(script, SECRET, base64.b64encode(BODY).decode(), str(NOW)))
        self.assertEqual(out['one'], sign_webhook(SECRET, NOW, BODY))
        self.assertEqual(verify_webhook(out['h'], BODY, SECRET, now=NOW)['folio'], 120)

    def test_python_signature_verifies_in_node(self):
        import base64
        h = webhook_headers(SECRET, BODY, 'dte.status_changed', 'd2', now=NOW)
        script = ("const m = await import(process.env.WEBHOOKS_DIST);"
                  "const r = m.verifyWebhook({secret: process.argv[1], headers: JSON.parse(process.argv[2]),"
                  " rawBody: Buffer.from(process.argv[3], 'base64'), now: Number(process.argv[4]) * 1000});"
                  "let bad = 'accepted';"
                  "try { m.verifyWebhook({secret: process.argv[1], headers: JSON.parse(process.argv[2]),"
                  " rawBody: Buffer.from('x'), now: Number(process.argv[4]) * 1000}); } catch (e) { bad = e.code; }"
                  "console.log(JSON.stringify({folio: r.payload.folio, delivery: r.deliveryId, bad}));")
        out = json.loads(self.node(script, SECRET, json.dumps(h), base64.b64encode(BODY).decode(), str(NOW)))
        self.assertEqual(out, {'folio': 120, 'delivery': 'd2', 'bad': 'ERR_WEBHOOK_SIGNATURE_INVALID'})


if __name__ == '__main__':
    unittest.main()
