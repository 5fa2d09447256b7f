"""Webhook receivers for the Timbre services (plain-JSON POST, HMAC-signed).

Every route: verify the RAW body against ``X-Timbre-Signature`` / ``X-Timbre-Timestamp`` with the
configured secret(s) (``lib.signing.verify_webhook``, constant-time comparison) BEFORE parsing it;
then refuse a repeated ``X-Timbre-Delivery`` (answered 200 ``{"status": "duplicate"}``, nothing applied
twice). Answers:

- 200 ``{"status": "ok" | "ignored" | "duplicate", ...}``;
- 400 ``ERR_BODY_INVALID`` (authentic but unusable body);
- 401 ``ERR_SIGNATURE_MISSING`` / ``ERR_SIGNATURE_INVALID`` / ``ERR_TIMESTAMP_INVALID`` /
  ``ERR_TIMESTAMP_OUT_OF_WINDOW`` -- a replay (timestamp more than 300 s away) is 401 like any other
  authentication failure, as the reference verifier (packages/webhooks) does, so the sender's retry
  logic treats it the same way (it will re-sign a fresh delivery);
- 404 ``ERR_DTE_NOT_FOUND`` (no invoice with that company RUT, type and folio);
- 503 ``ERR_NOT_CONFIGURED`` (no webhook secret configured).

``auth='none'``: ``message_post`` needs a real user, so the environment runs as the superuser
(messages are authored by OdooBot).
"""
import logging

import odoo
from odoo import http
from odoo.http import request

_logger = logging.getLogger(__name__)

# readonly=False: in Odoo 19 an auth='none' route defaults to a READ-ONLY cursor.
ROUTE_OPTS = dict(type='http', auth='none', methods=['POST'], csrf=False, save_session=False, readonly=False)
HEADER_DELIVERY = 'X-Timbre-Delivery'
HEADER_EVENT = 'X-Timbre-Event'


class DteWebhookController(http.Controller):

    # -- common -----------------------------------------------------------------------------------

    @staticmethod
    def _answer(data, status=200):
        return request.make_json_response(data, status=status)

    def _verify(self):
        """``(payload, delivery_id, event)`` of an authentic request, or an error response."""
        from ..lib.signing import WebhookError, verify_webhook
        request.update_env(user=odoo.SUPERUSER_ID)
        secrets = request.env['l10n_cl_dte.service']._webhook_secrets()
        if not secrets:
            _logger.error('Timbre webhook refused: no webhook secret configured (l10n_cl_dte.webhook_secret)')
            return None, self._answer({'error': 'ERR_NOT_CONFIGURED'}, 503)
        headers = request.httprequest.headers
        try:
            payload = verify_webhook(headers, request.httprequest.get_data(), secrets)
        except WebhookError as err:
            _logger.warning('Timbre webhook refused on %s: %s', request.httprequest.path, err.code)
            return None, self._answer({'error': err.code}, err.status)
        delivery = (headers.get(HEADER_DELIVERY) or '').strip()[:200]
        event = payload.get('event') or headers.get(HEADER_EVENT) or ''
        return (payload, delivery, event), None

    def _find_move(self, payload):
        """The invoice of ``rut_emisor`` + ``dte_type`` + ``folio`` (the service's id as a fallback)."""
        env = request.env
        try:
            folio = int(payload.get('folio'))
        except (TypeError, ValueError):
            return None
        dte_type = str(payload.get('dte_type') or '')
        rut = str(payload.get('rut_emisor') or '').replace('.', '').upper().strip()
        if not (folio and dte_type and rut):
            return None
        companies = env['res.company'].sudo().search([]).filtered(
            lambda c: (c.vat or '').replace('.', '').upper().removeprefix('CL') == rut)
        if not companies:
            return None
        moves = env['account.move'].sudo().search([
            ('company_id', 'in', companies.ids), ('dte_type', '=', dte_type), ('dte_folio', '=', folio),
        ], limit=2)
        if len(moves) > 1 and payload.get('id'):
            moves = moves.filtered(lambda m: m.dte_service_id == payload['id']) or moves[:1]
        return moves[:1] or None

    def _handle(self, expected_event, apply):
        verified, error = self._verify()
        if error:
            return error
        payload, delivery, event = verified
        if expected_event and event and event != expected_event:
            return self._answer({'error': 'ERR_BODY_INVALID', 'detail': 'unexpected event %s' % event}, 400)
        Delivery = request.env['dte.webhook.delivery'].sudo()
        if Delivery._is_duplicate(delivery):
            return self._answer({'status': 'duplicate', 'delivery': delivery})
        response, result = apply(payload)
        if response.status_code == 200 and not Delivery._register_delivery(delivery, event, result):
            request.env.cr.rollback()  # a concurrent delivery of the same id won: undo ours
            return self._answer({'status': 'duplicate', 'delivery': delivery})
        return response

    # -- routes -----------------------------------------------------------------------------------

    @http.route('/dte/webhook/status_update', **ROUTE_OPTS)
    def status_update(self, **kwargs):
        """``dte.status_changed``: apply the new status (never backwards) and post a chatter note."""
        def apply(payload):
            if not payload.get('new_status'):
                return self._answer({'error': 'ERR_BODY_INVALID', 'detail': 'new_status missing'}, 400), None
            move = self._find_move(payload)
            if not move:
                return self._answer({'error': 'ERR_DTE_NOT_FOUND'}, 404), None
            changed = move._dte_apply_status(payload, 'webhook')
            status = 'ok' if changed else 'ignored'
            return self._answer({'status': status, 'move_id': move.id, 'dte_status': move.dte_status}), status
        return self._handle('dte.status_changed', apply)

    @http.route('/dte/webhook/error_alert', **ROUTE_OPTS)
    def error_alert(self, **kwargs):
        """``dte.error``: store the error on the invoice and post it as a note."""
        def apply(payload):
            move = self._find_move(payload)
            if not move:
                return self._answer({'error': 'ERR_DTE_NOT_FOUND'}, 404), None
            code = str(payload.get('error_code') or 'ERR_DTE_FAILED')
            message = str(payload.get('error_message') or '')
            move.sudo().dte_error_message = '%s\n%s' % (code, message) if message else code
            if move.dte_status not in ('accepted', 'accepted_with_reparos', 'rejected', 'error'):
                # REJECTED-like codes come with a status_changed to "rejected"; this is a failure.
                move._dte_apply_status({'new_status': 'error', 'error_message': move.dte_error_message,
                                        'status_display': code}, 'webhook')
            move.message_post(body=request.env._('Alerta del servicio DTE: %(code)s %(message)s',
                                                 code=code, message=message), subtype_xmlid='mail.mt_note')
            return self._answer({'status': 'ok', 'move_id': move.id}), 'ok'
        return self._handle('dte.error', apply)

    @http.route('/dte/webhook/sii_change', **ROUTE_OPTS)
    def sii_change(self, **kwargs):
        """``sii.regulatory_change`` (AI service): create or update the news, notify if urgent."""
        def apply(payload):
            try:
                news, created = request.env['dte.sii.news'].sudo()._upsert_from_payload(payload)
            except ValueError as err:
                return self._answer({'error': 'ERR_BODY_INVALID', 'field': str(err)}, 400), None
            status = 'created' if created else 'updated'
            return self._answer({'status': 'ok', 'news_id': news.id, 'result': status}), status
        return self._handle('sii.regulatory_change', apply)
