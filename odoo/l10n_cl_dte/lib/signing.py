"""Timbre webhook signatures: the receiver side (Odoo's controllers) and a signer for tests.

The scheme is the one of ``packages/webhooks/src/index.ts`` (the reference verifier) and
``shared/docs/api-contract.md``::

    X-Timbre-Event:     dte.status_changed
    X-Timbre-Delivery:  <unique id of the delivery, the same on every retry>
    X-Timbre-Timestamp: <Unix seconds>
    X-Timbre-Signature: v1=<hex HMAC-SHA256(secret, b"<timestamp>." + raw body)>[,v1=<hex>...]

The secret is used as its UTF-8 bytes (``whsec_`` prefix included). Several ``v1=`` values are
allowed (the service signs with every secret while a subscription rotates it); other schemes are
ignored. The checks run in the reference's order: a ``v1=`` value is present, the timestamp is
whole seconds, one value matches under one of the secrets (constant-time comparison, every
candidate compared), the timestamp is within ``tolerance`` seconds of now (a replay or a bad
clock otherwise), the body is a JSON object. The signature is checked BEFORE the timestamp
window, so an unauthenticated caller learns nothing about the receiver's clock.

Only the standard library: the module is imported by the Odoo controllers and by CI without Odoo.
"""
import hashlib
import hmac
import json
import math
import re
import time

__all__ = [
    'HEADER_EVENT', 'HEADER_DELIVERY', 'HEADER_TIMESTAMP', 'HEADER_SIGNATURE',
    'DEFAULT_TOLERANCE', 'WebhookError', 'verify_webhook', 'sign_webhook', 'webhook_headers',
    'get_header', 'parse_signature_header',
]

HEADER_EVENT = 'X-Timbre-Event'
HEADER_DELIVERY = 'X-Timbre-Delivery'
HEADER_TIMESTAMP = 'X-Timbre-Timestamp'
HEADER_SIGNATURE = 'X-Timbre-Signature'
SCHEME = 'v1'
DEFAULT_TOLERANCE = 300

_TIMESTAMP_RE = re.compile(r'^[0-9]{1,15}$')
_HEX64_RE = re.compile(r'^[0-9a-fA-F]{64}$')


class WebhookError(Exception):
    """A refused webhook request.

    ``code`` is stable (``ERR_SIGNATURE_MISSING``, ``ERR_SIGNATURE_INVALID``,
    ``ERR_TIMESTAMP_INVALID``, ``ERR_TIMESTAMP_OUT_OF_WINDOW``, ``ERR_BODY_INVALID``);
    ``status`` is the HTTP status the controller should answer (401 for authentication
    failures, 400 for an authentic but unusable body). ``message`` is for logs and never
    contains the secret.
    """

    def __init__(self, code, status, message=''):
        super().__init__(message or code)
        self.code = code
        self.status = status
        self.message = message or code

    def __repr__(self):
        return 'WebhookError(%r, %r, %r)' % (self.code, self.status, self.message)


def _key(secret):
    """The HMAC key of one secret: its UTF-8 bytes (bytes are used as they are)."""
    if isinstance(secret, (bytes, bytearray)):
        key = bytes(secret)
    elif isinstance(secret, str):
        key = secret.encode('utf-8')
    else:
        raise TypeError('a webhook secret is a str or bytes')
    if not key:
        raise ValueError('the webhook secret is empty')
    return key


def _keys(secret):
    """One or several secrets (rotation) -> list of keys; empty entries are skipped, none is an error."""
    secrets = list(secret) if isinstance(secret, (list, tuple)) else [secret]
    keys = [_key(s) for s in secrets if s]
    if not keys:
        raise ValueError('no webhook secret configured')
    return keys


def _body_bytes(body):
    if isinstance(body, str):
        return body.encode('utf-8')
    return bytes(body)


def _digest(key, timestamp_text, body):
    mac = hmac.new(key, (timestamp_text + '.').encode('ascii'), hashlib.sha256)
    mac.update(body)
    return mac.digest()


def _timestamp_text(timestamp):
    text = str(int(timestamp)) if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool) else str(timestamp)
    if not _TIMESTAMP_RE.match(text):
        raise ValueError('the webhook timestamp must be whole Unix seconds')
    return text


def sign_webhook(secret, timestamp, body):
    """``v1=<hex>`` for ``body`` (bytes or str, UTF-8) at ``timestamp`` (Unix seconds).

    What the DTE service sends in ``X-Timbre-Signature`` (one secret). Used by tests and by the
    end-to-end script to forge deliveries.
    """
    return '%s=%s' % (SCHEME, _digest(_key(secret), _timestamp_text(timestamp), _body_bytes(body)).hex())


def webhook_headers(secret, body, event, delivery_id, now=None):
    """The headers of one delivery (several secrets -> several comma-separated ``v1=`` values)."""
    ts = _timestamp_text(int(time.time() if now is None else now))
    secrets = list(secret) if isinstance(secret, (list, tuple)) else [secret]
    return {
        'Content-Type': 'application/json',
        HEADER_EVENT: event,
        HEADER_DELIVERY: delivery_id,
        HEADER_TIMESTAMP: ts,
        HEADER_SIGNATURE: ','.join(sign_webhook(s, ts, body) for s in secrets),
    }


def get_header(headers, name):
    """One header, case-insensitively, from a dict-like object or werkzeug ``Headers``.

    Repeated values (a list, or several entries) are joined with commas, as the reference does.
    """
    if headers is None:
        return None
    want = name.lower()
    found = []
    items = headers.items() if hasattr(headers, 'items') else headers
    for key, value in items:
        if str(key).lower() != want or value is None:
            continue
        if isinstance(value, (list, tuple)):
            found.extend(str(v) for v in value)
        else:
            found.append(str(value))
    return ','.join(found) if found else None


def parse_signature_header(value):
    """The ``v1=`` values of a signature header (other schemes ignored)."""
    if value is None:
        return []
    prefix = SCHEME + '='
    return [part.strip()[len(prefix):].strip() for part in value.split(',') if part.strip().startswith(prefix)]


def verify_webhook(headers, raw_body, secret, now=None, tolerance=DEFAULT_TOLERANCE):
    """Verify one webhook request and return its parsed JSON body (a dict).

    ``headers``: any mapping (case-insensitive lookup); ``raw_body``: the bytes exactly as
    received -- verify BEFORE parsing; ``secret``: the subscription secret, or a list of secrets
    while rotating (any one may match); ``now``: Unix seconds (default: the current time);
    ``tolerance``: seconds the timestamp may be away from ``now``, either way.

    Raises :class:`WebhookError`; raises ``ValueError`` when no secret is configured (a server
    configuration problem, not the caller's: the controller should answer 500/503).
    """
    keys = _keys(secret)
    signatures = parse_signature_header(get_header(headers, HEADER_SIGNATURE))
    if not signatures:
        raise WebhookError('ERR_SIGNATURE_MISSING', 401, 'no v1= signature in %s' % HEADER_SIGNATURE)

    ts_text = (get_header(headers, HEADER_TIMESTAMP) or '').strip()
    if not _TIMESTAMP_RE.match(ts_text):
        raise WebhookError('ERR_TIMESTAMP_INVALID', 401, '%s must be whole Unix seconds' % HEADER_TIMESTAMP)

    body = _body_bytes(raw_body if raw_body is not None else b'')
    candidates = [bytes.fromhex(s) for s in signatures if _HEX64_RE.match(s)]
    ok = False
    for key in keys:
        expected = _digest(key, ts_text, body)
        # Every candidate is compared (no early exit): the time taken does not say which matched.
        for candidate in candidates:
            if hmac.compare_digest(candidate, expected):
                ok = True
    if not ok:
        raise WebhookError('ERR_SIGNATURE_INVALID', 401, 'the signature does not match the body and timestamp')

    clock = time.time() if now is None else now
    skew = abs(math.floor(clock) - int(ts_text))  # whole seconds, as the reference
    if skew > tolerance:
        raise WebhookError('ERR_TIMESTAMP_OUT_OF_WINDOW', 401,
                           'the timestamp is %d s away from now (tolerance %d s)' % (skew, tolerance))

    try:
        payload = json.loads(body.decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        raise WebhookError('ERR_BODY_INVALID', 400, 'the body is not JSON') from None
    if not isinstance(payload, dict):
        raise WebhookError('ERR_BODY_INVALID', 400, 'the body is not a JSON object')
    return payload
