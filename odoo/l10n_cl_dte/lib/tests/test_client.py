"""TimbreClient (lib/client.py) against a local HTTP server speaking the services' wire format."""
import base64
import json
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

try:
    import requests  # noqa: F401
except ImportError:  # CI without python3-requests: the client is not testable, the rest is
    requests = None

if requests is not None:
    from ..client import TimbreClient, TimbreServiceError, is_jwt

API_KEY = 'tk_live_0123456789abcdef'
JWT = '.'.join(base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip('=')
               for p in ({'alg': 'HS256', 'typ': 'JWT'}, {'sub': 'odoo', 'companies': ['76086428-5']})) + '.c2lnbmF0dXJl'


def problem(status, code, detail, errors=()):
    return status, {'type': 'urn:timbre:problem:x', 'title': 'Error', 'status': status, 'detail': detail, 'code': code,
                    'errors': list(errors)}


class FakeServices:
    """One HTTP server for both services; ``script[(method, path)]`` is a list of answers consumed
    in order (the last one repeats): ``(status, json)``, ``(status, bytes, content_type)`` or a
    callable(request) -> one of those. Every request is recorded."""

    def __init__(self):
        self.script = {}
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                url = urlsplit(self.path)
                req = {'method': self.command, 'path': url.path, 'query': parse_qs(url.query),
                       'headers': {k.lower(): v for k, v in self.headers.items()},
                       'json': json.loads(body) if body else None}
                fake.requests.append(req)
                answers = fake.script.get((self.command, url.path)) or [(404, {'code': 'ERR_NOT_FOUND'})]
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if callable(answer):
                    answer = answer(req)
                status, content = answer[0], answer[1]
                if content is None:  # 204 No Content
                    data, ctype = b'', 'application/json'
                elif isinstance(content, bytes):
                    data, ctype = content, answer[2] if len(answer) > 2 else 'application/octet-stream'
                else:
                    data = json.dumps(content).encode()
                    ctype = 'application/problem+json' if status >= 400 else 'application/json'
                try:
                    self.send_response(status)
                    self.send_header('Content-Type', ctype)
                    self.send_header('Content-Length', str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@unittest.skipIf(requests is None, 'requests is not installed')
class TestClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakeServices()

    @classmethod
    def tearDownClass(cls):
        cls.fake.close()

    def setUp(self):
        self.fake.script.clear()
        self.fake.requests.clear()

    def client(self, key=API_KEY, **kw):
        kw.setdefault('backoff', 0)
        return TimbreClient(self.fake.url, self.fake.url + '/', key, **kw)

    def test_generate_and_headers(self):
        answer = {'id': 7, 'folio': 120, 'dte_type': '33', 'status': 'sent', 'sii_track_id': '123456', 'xml_signed': '<DTE/>'}
        self.fake.script[('POST', '/api/v1/dte/generate')] = [(200, answer)]
        out = self.client().generate({'dte_type': '33'}, 'odoo-move-42-abc', pdf='letter')
        self.assertEqual(out, answer)
        req = self.fake.requests[0]
        self.assertEqual(req['json'], {'dte_type': '33'})
        self.assertEqual(req['headers']['idempotency-key'], 'odoo-move-42-abc')
        self.assertEqual(req['headers']['x-api-key'], API_KEY)
        self.assertNotIn('authorization', req['headers'])
        self.assertEqual(req['query'], {'pdf': ['letter']})
        with self.assertRaises(ValueError):
            self.client().generate({}, '')

    def test_jwt_goes_in_bearer(self):
        self.assertTrue(is_jwt(JWT))
        self.assertFalse(is_jwt(API_KEY))
        self.assertFalse(is_jwt('a.b.c'))  # three parts but not a JWT header
        self.fake.script[('GET', '/api/v1/dte/caf/status')] = [(200, {'rut_emisor': '76086428-5', 'tipos': []})]
        self.client(JWT).caf_status('76.086.428-5')
        req = self.fake.requests[0]
        self.assertEqual(req['headers']['authorization'], 'Bearer ' + JWT)
        self.assertNotIn('x-api-key', req['headers'])
        self.assertEqual(req['query'], {'rut_emisor': ['76086428-5']})

    def test_retry_on_503_then_success_same_idempotency_key(self):
        self.fake.script[('POST', '/api/v1/dte/generate')] = [
            problem(503, 'ERR_SII_UNAVAILABLE', 'SII down'), (502, b'<html>bad gateway</html>', 'text/html'),
            (200, {'id': 1, 'status': 'sent'})]
        out = self.client(retries=2).generate({'dte_type': '33'}, 'key-1')
        self.assertEqual(out['id'], 1)
        self.assertEqual(len(self.fake.requests), 3)
        self.assertEqual({r['headers']['idempotency-key'] for r in self.fake.requests}, {'key-1'})

    def test_retries_exhausted(self):
        self.fake.script[('GET', '/api/v1/dte/status')] = [problem(504, 'ERR_SII_TIMEOUT', 'slow SII')]
        with self.assertRaises(TimbreServiceError) as cm:
            self.client(retries=2).status('76086428-5', '33', 120)
        self.assertEqual(len(self.fake.requests), 3)
        self.assertEqual((cm.exception.status, cm.exception.code), (504, 'ERR_SII_TIMEOUT'))
        self.assertTrue(cm.exception.retryable)

    def test_no_retry_on_422(self):
        fields = [{'field': 'totales.iva', 'message': 'stated 1, but the lines give 2', 'code': 'ERR_TOTALS_MISMATCH'}]
        self.fake.script[('POST', '/api/v1/dte/generate')] = [problem(422, 'ERR_TOTALS_MISMATCH', 'totals differ', fields)]
        with self.assertRaises(TimbreServiceError) as cm:
            self.client(retries=3).generate({}, 'k')
        self.assertEqual(len(self.fake.requests), 1)
        e = cm.exception
        self.assertEqual((e.status, e.code, e.detail), (422, 'ERR_TOTALS_MISMATCH', 'totals differ'))
        self.assertEqual(e.fields, fields)
        self.assertFalse(e.retryable)
        self.assertNotIn(API_KEY, str(e) + repr(self.client()))

    def test_no_retry_on_409_and_non_json_error(self):
        self.fake.script[('POST', '/api/v1/dte/batch')] = [(409, b'conflict', 'text/plain')]
        with self.assertRaises(TimbreServiceError) as cm:
            self.client().batch([{}])
        self.assertEqual((cm.exception.status, cm.exception.code, cm.exception.detail), (409, 'ERR_HTTP_409', 'conflict'))
        self.assertEqual(len(self.fake.requests), 1)

    def test_status_query(self):
        ans = {'id': 7, 'folio': 120, 'dte_type': '33', 'status': 'accepted', 'final': True}
        self.fake.script[('GET', '/api/v1/dte/status')] = [(200, ans)]
        self.assertEqual(self.client().status('CL760864285', 33, 120, track_id='987'), ans)
        self.assertEqual(self.fake.requests[0]['query'],
                         {'rut_emisor': ['76086428-5'], 'dte_type': ['33'], 'folio': ['120'], 'track_id': ['987']})

    def test_batch_and_batch_status(self):
        self.fake.script[('POST', '/api/v1/dte/batch')] = [(202, {'batch_id': 'b' * 36, 'total': 2, 'accepted': 2, 'refused': []})]
        self.fake.script[('GET', '/api/v1/dte/batch/' + 'b' * 36)] = [(200, {'batch_id': 'b' * 36, 'total': 2, 'done': 1})]
        c = self.client()
        self.assertEqual(c.batch([{'a': 1}, {'b': 2}], callback_url='https://odoo/cb')['total'], 2)
        self.assertEqual(self.fake.requests[0]['json'], {'documents': [{'a': 1}, {'b': 2}], 'callback_url': 'https://odoo/cb'})
        self.assertEqual(c.batch_status('b' * 36)['done'], 1)

    def test_pdf_bytes(self):
        self.fake.script[('GET', '/api/v1/dte/7/pdf')] = [(200, b'%PDF-1.7 fake', 'application/pdf')]
        self.assertEqual(self.client().pdf(7, fmt='thermal'), b'%PDF-1.7 fake')
        self.assertEqual(self.fake.requests[0]['query'], {'format': ['thermal']})

    def test_register_webhook(self):
        self.fake.script[('POST', '/api/v1/webhooks/subscriptions')] = [
            (201, {'id': 3, 'rut_company': '76086428-5', 'url': 'https://o/dte/webhook/status_update',
                   'events': ['dte.status_changed'], 'active': True, 'secret': 'whsec_abc'})]
        sub_id, secret = self.client().register_webhook('76086428-5', 'https://o/dte/webhook/status_update', ['dte.status_changed'])
        self.assertEqual((sub_id, secret), (3, 'whsec_abc'))
        self.assertEqual(self.fake.requests[0]['json'], {'rut_company': '76086428-5', 'url': 'https://o/dte/webhook/status_update',
                                                         'events': ['dte.status_changed']})

    def test_delete_webhook(self):
        self.fake.script[('DELETE', '/api/v1/webhooks/subscriptions/3')] = [(204, None)]
        self.fake.script[('DELETE', '/api/v1/webhooks/subscriptions/4')] = [problem(404, 'ERR_NOT_FOUND', 'subscription 4 not found')]
        self.fake.script[('DELETE', '/api/v1/webhooks/subscriptions/5')] = [problem(403, 'ERR_AUTH_FORBIDDEN', 'admin needed')]
        c = self.client()
        self.assertTrue(c.delete_webhook(3))
        self.assertFalse(c.delete_webhook('4'))
        with self.assertRaises(TimbreServiceError) as ctx:
            c.delete_webhook(5)
        self.assertEqual(ctx.exception.code, 'ERR_AUTH_FORBIDDEN')
        self.assertEqual([r['method'] for r in self.fake.requests], ['DELETE', 'DELETE', 'DELETE'])

    def test_ai_endpoints(self):
        self.fake.script[('POST', '/api/v1/ai/prevalidate')] = [(200, {'is_valid': False, 'issues': [
            {'code': 'PV-1', 'field': 'receptor.giro', 'severity': 'error', 'message': 'falta giro'}], 'recommendations': [],
            'confidence': 0.9})]
        self.fake.script[('POST', '/api/ai/forecast/folios')] = [(200, {'predicted_usage': 310, 'daily_predictions': []})]
        c = self.client()
        self.assertFalse(c.prevalidate({'dte_type': '33'}, {'industry': 'retail', 'historical_errors': []})['is_valid'])
        self.assertEqual(self.fake.requests[0]['json'], {'dte_data': {'dte_type': '33'},
                                                         'company_context': {'industry': 'retail', 'historical_errors': []}})
        remaining = [{'desde': 1, 'hasta': 500, 'fecha_autorizacion': '2026-06-01'}]
        self.assertEqual(c.forecast('33', {'2026-11-01': 10}, 30, '76086428-5', remaining=remaining)['predicted_usage'], 310)
        self.assertEqual(self.fake.requests[1]['json'], {'dte_type': 33, 'historical_data': {'2026-11-01': 10}, 'horizon_days': 30,
                                                         'company_id': '76086428-5', 'remaining': remaining})

    def test_health(self):
        self.fake.script[('GET', '/health')] = [(200, {'status': 'ok'}), problem(503, 'ERR_NOT_READY', 'db down')]
        out = TimbreClient(self.fake.url, self.fake.url, API_KEY, retries=0).health()
        self.assertEqual(out['dte'], {'ok': True, 'detail': 'ok'})
        self.assertFalse(out['ai']['ok'])
        self.assertIn('ERR_NOT_READY', out['ai']['detail'])
        out = TimbreClient('http://127.0.0.1:9', '', API_KEY, retries=0, timeout=2).health()
        self.assertEqual(out['dte']['ok'], False)
        self.assertIn('ERR_UNREACHABLE', out['dte']['detail'])
        self.assertIn('ERR_NOT_CONFIGURED', out['ai']['detail'])

    def test_connection_error_retried(self):
        c = TimbreClient('http://127.0.0.1:9', '', API_KEY, retries=2, backoff=0)
        calls = []
        original = c.session.request
        c.session.request = lambda *a, **k: calls.append(1) or original(*a, **k)
        with self.assertRaises(TimbreServiceError) as cm:
            c.caf_status('76086428-5')
        self.assertEqual((cm.exception.status, cm.exception.code), (0, 'ERR_UNREACHABLE'))
        self.assertEqual(len(calls), 3)

    def test_read_timeout(self):
        def slow(req):
            time.sleep(0.6)
            return 200, {'status': 'ok'}
        # Not safe to repeat (a batch would be queued twice): one attempt, ERR_TIMEOUT.
        self.fake.script[('POST', '/api/v1/dte/batch')] = [slow]
        with self.assertRaises(TimbreServiceError) as cm:
            self.client(timeout=0.2, retries=2).batch([{}])
        self.assertEqual((cm.exception.status, cm.exception.code), (0, 'ERR_TIMEOUT'))
        time.sleep(0.5)
        self.assertEqual(len(self.fake.requests), 1)
        # generate carries its Idempotency-Key: the timeout is retried, with the same key.
        self.fake.requests.clear()
        self.fake.script[('POST', '/api/v1/dte/generate')] = [slow, (200, {'id': 9})]
        self.assertEqual(self.client(timeout=0.3, retries=1).generate({}, 'key-t')['id'], 9)
        self.assertEqual([r['headers']['idempotency-key'] for r in self.fake.requests], ['key-t', 'key-t'])


if __name__ == '__main__':
    unittest.main()
