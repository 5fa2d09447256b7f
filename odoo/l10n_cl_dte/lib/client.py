"""HTTP client of Timbre's DTE service and AI service (``requests``; no Odoo).

Paths, bodies and answers are those of ``services/dte/src/routes/*.ts`` and
``services/ai/src/routes/*.ts``:

==========================  ==================================================================
method                      request
==========================  ==================================================================
``generate``                POST {dte}/api/v1/dte/generate (header ``Idempotency-Key``)
``status``                  GET  {dte}/api/v1/dte/status?rut_emisor&dte_type&folio[&track_id]
``batch``                   POST {dte}/api/v1/dte/batch {documents, callback_url?} -> 202
``batch_status``            GET  {dte}/api/v1/dte/batch/{batch_id}
``caf_status``              GET  {dte}/api/v1/dte/caf/status?rut_emisor
``pdf``                     GET  {dte}/api/v1/dte/{id}/pdf?format=letter|a4|thermal -> bytes
``register_webhook``        POST {dte}/api/v1/webhooks/subscriptions -> 201 {id, secret, ...}
``delete_webhook``          DELETE {dte}/api/v1/webhooks/subscriptions/{id} -> 204 (404: already gone)
``prevalidate``             POST {ai}/api/v1/ai/prevalidate {dte_data, company_context}
``forecast``                POST {ai}/api/ai/forecast/folios {dte_type, historical_data, ...}
``health``                  GET  {dte}/health and {ai}/health
==========================  ==================================================================

Authentication: the same credential works on both services. A JWT (three base64url parts) goes in
``Authorization: Bearer``; anything else is an API key and goes in ``X-Api-Key``. The key is never
logged nor put in exception messages.

Retries: only when the request may not have reached the service or the service says it is
temporarily unable (connection errors, 502, 503, 504), ``retries`` times with exponential backoff
(honouring ``Retry-After`` up to a cap). A read timeout is retried only for requests that are safe
to repeat: GETs and ``generate``, whose ``Idempotency-Key`` stays the same on every attempt so the
service answers a repeated request with the stored result instead of issuing a second document.
4xx answers (422 validation, 409 conflict...) are never retried.

Errors: :class:`TimbreServiceError` ``(status, code, detail, fields)`` parsed from the
``application/problem+json`` answer (``code``, ``detail``, ``errors[{field, message, code}]``);
``status`` is 0 when the service could not be reached.
"""
import base64
import json
import logging
import re
import time

import requests

from .payload import PayloadError, normalize_rut

__all__ = ['TimbreClient', 'TimbreServiceError', 'is_jwt']

_logger = logging.getLogger(__name__)

RETRY_STATUSES = (502, 503, 504)
_JWT_RE = re.compile(r'^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$')
_MAX_BACKOFF = 10.0


class TimbreServiceError(Exception):
    """A failed call: ``status`` (HTTP status, 0 when unreachable), ``code`` (stable, e.g.
    ``ERR_TOTALS_MISMATCH``, ``ERR_UNREACHABLE``, ``ERR_TIMEOUT``), ``detail`` (text) and ``fields``
    (list of ``{field, message, code}``), plus the whole ``problem`` dict when there was one."""

    def __init__(self, status, code, detail, fields=None, problem=None):
        super().__init__('%s %s: %s' % (status, code, detail))
        self.status = status
        self.code = code
        self.detail = detail
        self.fields = list(fields or [])
        self.problem = problem or {}

    @property
    def retryable(self):
        """True when trying again later may succeed (unreachable, 5xx gateway, 429, in progress)."""
        return self.status in (0, 429) + RETRY_STATUSES or self.code == 'ERR_IDEMPOTENCY_IN_PROGRESS'


def is_jwt(token):
    """True for a JWT: three dot-separated base64url parts whose first decodes to a JSON header."""
    if not token or not _JWT_RE.match(token):
        return False
    head = token.split('.', 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + '=' * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and 'alg' in header


def _problem_error(response):
    """A non-2xx answer -> TimbreServiceError (problem+json when possible, else the raw text)."""
    status = response.status_code
    problem = None
    try:
        data = response.json()
        if isinstance(data, dict):
            problem = data
    except ValueError:
        pass
    if problem is None:
        text = (response.text or '').strip()
        return TimbreServiceError(status, 'ERR_HTTP_%d' % status, text[:500] or response.reason or 'error')
    fields = []
    for err in problem.get('errors') or []:
        if isinstance(err, dict):
            fields.append({'field': err.get('field') or '', 'message': err.get('message') or '', 'code': err.get('code') or ''})
    code = problem.get('code') or 'ERR_HTTP_%d' % status
    detail = problem.get('detail') or problem.get('title') or problem.get('message') or ''
    return TimbreServiceError(status, code, detail, fields, problem)


def _rut(value):
    """Odoo's ``vat`` (``CL760864285``, ``76.086.428-5``) as the services want it (``76086428-5``);
    left as it is when it is not a valid RUT (the service then answers 422 naming the field)."""
    try:
        return normalize_rut(value, 'rut')
    except PayloadError:
        return value


class TimbreClient:
    """Client of one Timbre installation (a DTE service URL and an AI service URL)."""

    def __init__(self, dte_url, ai_url, api_key, timeout=30, retries=2, backoff=0.5, session=None):
        self.dte_url = (dte_url or '').rstrip('/')
        self.ai_url = (ai_url or '').rstrip('/')
        self._api_key = api_key or ''
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.session = session or requests.Session()

    def __repr__(self):  # never show the key
        return 'TimbreClient(dte_url=%r, ai_url=%r)' % (self.dte_url, self.ai_url)

    # -- plumbing --------------------------------------------------------------------------------

    def _auth_headers(self):
        if not self._api_key:
            return {}
        if is_jwt(self._api_key):
            return {'Authorization': 'Bearer %s' % self._api_key}
        return {'X-Api-Key': self._api_key}

    def _sleep(self, attempt, response=None):
        delay = self.backoff * (2 ** attempt)
        if response is not None:
            retry_after = response.headers.get('Retry-After')
            if retry_after and retry_after.strip().isdigit():
                delay = max(delay, float(retry_after.strip()))
        time.sleep(min(delay, _MAX_BACKOFF))

    def _request(self, method, base, path, json_body=None, params=None, headers=None, idempotent=None, raw=False):
        """One call with retries; returns the parsed JSON (or the bytes with ``raw``)."""
        if not base:
            raise TimbreServiceError(0, 'ERR_NOT_CONFIGURED', 'la URL del servicio no está configurada')
        url = base + path
        if idempotent is None:
            idempotent = method == 'GET'
        all_headers = {'Accept': 'application/pdf' if raw else 'application/json'}
        all_headers.update(self._auth_headers())
        all_headers.update(headers or {})
        attempt = 0
        while True:
            try:
                response = self.session.request(method, url, json=json_body, params=params, headers=all_headers,
                                                timeout=self.timeout)
            except requests.exceptions.ConnectTimeout as exc:
                error, retry = TimbreServiceError(0, 'ERR_TIMEOUT', 'tiempo de conexión agotado: %s' % url), True
                cause = exc
            except requests.exceptions.Timeout as exc:
                # The request may have been processed: repeat it only if repeating is harmless.
                error, retry = TimbreServiceError(0, 'ERR_TIMEOUT', 'sin respuesta de %s en %s s' % (url, self.timeout)), idempotent
                cause = exc
            except requests.exceptions.ConnectionError as exc:
                error, retry = TimbreServiceError(0, 'ERR_UNREACHABLE', 'no se pudo conectar con %s' % url), True
                cause = exc
            else:
                if 200 <= response.status_code < 300:
                    if raw:
                        return response.content
                    if response.status_code == 204 or not response.content:
                        return {}
                    try:
                        return response.json()
                    except ValueError:
                        raise TimbreServiceError(response.status_code, 'ERR_BAD_RESPONSE',
                                                 'respuesta no JSON de %s' % url) from None
                error = _problem_error(response)
                retry = response.status_code in RETRY_STATUSES
                cause = None
                if retry and attempt < self.retries:
                    _logger.info('Timbre %s %s answered %s; retry %d/%d', method, path, response.status_code,
                                 attempt + 1, self.retries)
                    self._sleep(attempt, response)
                    attempt += 1
                    continue
                raise error
            if retry and attempt < self.retries:
                _logger.info('Timbre %s %s failed (%s); retry %d/%d', method, path, error.code, attempt + 1, self.retries)
                self._sleep(attempt)
                attempt += 1
                continue
            raise error from cause

    # -- DTE service -----------------------------------------------------------------------------

    def generate(self, payload, idempotency_key, pdf=None):
        """Issue one document. The same ``idempotency_key`` on every attempt (and on a later call
        for the same invoice) makes the service answer with the stored result instead of spending
        a second folio. ``pdf`` ('letter', 'a4', 'thermal') adds ``pdf_content`` (base64)."""
        if not idempotency_key:
            raise ValueError('generate needs an idempotency key')
        params = {'pdf': pdf} if pdf else None
        return self._request('POST', self.dte_url, '/api/v1/dte/generate', json_body=payload, params=params,
                             headers={'Idempotency-Key': idempotency_key}, idempotent=True)

    def status(self, rut_emisor, dte_type, folio, track_id=None):
        """Ask the SII through the service: ``{id, folio, dte_type, track_id, status, sii_status,
        status_display, error_message, fecha_revision, final}``."""
        params = {'rut_emisor': _rut(rut_emisor), 'dte_type': str(dte_type), 'folio': int(folio)}
        if track_id:
            params['track_id'] = str(track_id)
        return self._request('GET', self.dte_url, '/api/v1/dte/status', params=params)

    def batch(self, documents, callback_url=None):
        """Queue documents of one issuer: ``202 {batch_id, total, accepted, refused[]}``."""
        body = {'documents': list(documents)}
        if callback_url:
            body['callback_url'] = callback_url
        return self._request('POST', self.dte_url, '/api/v1/dte/batch', json_body=body)

    def batch_status(self, batch_id):
        """``{batch_id, total, done, status, counts, documents[{index, id, dte_type, folio, status,
        sii_track_id, error_code, error_message}]}``."""
        return self._request('GET', self.dte_url, '/api/v1/dte/batch/%s' % requests.utils.quote(str(batch_id), safe=''))

    def caf_status(self, rut_emisor):
        """``{rut_emisor, fecha, tipos, cafs}``: folios left per document type."""
        return self._request('GET', self.dte_url, '/api/v1/dte/caf/status', params={'rut_emisor': _rut(rut_emisor)})

    def pdf(self, dte_id, fmt='letter', cedible=False):
        """The printed document (bytes, application/pdf)."""
        params = {'format': fmt}
        if cedible:
            params['cedible'] = 'true'
        return self._request('GET', self.dte_url, '/api/v1/dte/%d/pdf' % int(dte_id), params=params, raw=True)

    def register_webhook(self, rut_company, url, events, secret=None):
        """Subscribe ``url`` to ``events``; returns ``(subscription id, secret)``. The secret is
        shown in this answer only: store it at once."""
        body = {'rut_company': _rut(rut_company), 'url': url, 'events': list(events)}
        if secret:
            body['secret'] = secret
        data = self._request('POST', self.dte_url, '/api/v1/webhooks/subscriptions', json_body=body)
        return data.get('id'), data.get('secret') or secret

    def delete_webhook(self, subscription_id):
        """Remove a subscription; ``False`` when it no longer exists (404), ``True`` otherwise."""
        try:
            self._request('DELETE', self.dte_url, '/api/v1/webhooks/subscriptions/%d' % int(subscription_id))
        except TimbreServiceError as err:
            if err.status == 404:
                return False
            raise
        return True

    # -- AI service ------------------------------------------------------------------------------

    def prevalidate(self, dte_data, company_context=None):
        """``{is_valid, issues[{code, field, severity, message}], recommendations, confidence}``."""
        body = {'dte_data': dte_data}
        if company_context:
            body['company_context'] = company_context
        return self._request('POST', self.ai_url, '/api/v1/ai/prevalidate', json_body=body, idempotent=True)

    def forecast(self, dte_type, historical_data, horizon_days, company_id, remaining=None):
        """Folio usage forecast: ``{predicted_usage, daily_predictions[...], avg_daily, peak_day,
        model_accuracy, supply?...}``. ``remaining``: [{desde, hasta, next?, fecha_autorizacion}]."""
        body = {'dte_type': int(dte_type), 'historical_data': dict(historical_data), 'horizon_days': int(horizon_days)}
        if company_id not in (None, False, ''):
            body['company_id'] = company_id
        if remaining:
            body['remaining'] = list(remaining)
        return self._request('POST', self.ai_url, '/api/ai/forecast/folios', json_body=body, idempotent=True)

    # -- both --------------------------------------------------------------------------------------

    def health(self):
        """``{'dte': {'ok': bool, 'detail': str}, 'ai': {...}}`` -- never raises (the settings'
        "test connection" button shows it)."""
        out = {}
        for name, base in (('dte', self.dte_url), ('ai', self.ai_url)):
            try:
                data = self._request('GET', base, '/health')
                out[name] = {'ok': (data or {}).get('status') == 'ok', 'detail': (data or {}).get('status') or ''}
            except TimbreServiceError as exc:
                out[name] = {'ok': False, 'detail': '%s %s' % (exc.code, exc.detail)}
        return out
