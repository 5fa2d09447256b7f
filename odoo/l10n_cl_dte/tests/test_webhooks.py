"""The webhook controllers over real HTTP: valid, tampered, replayed (old timestamp), repeated
delivery (idempotent), unknown document, bad body, and sii_change creating news and notifying the DTE
administrators for priority ≥ 8."""
import json
import time
import uuid

from odoo.tests import HttpCase, tagged

from ..lib.signing import webhook_headers
from .common import COMPANY_RUT, DteTestCommon

SECRET = 'whsec_test_0123456789abcdef0123456789abcdef'


@tagged('post_install_l10n', 'post_install', '-at_install')
class TestDteWebhooks(DteTestCommon, HttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env['ir.config_parameter'].sudo().set_param('l10n_cl_dte.webhook_secret', 'old_secret_rotated_out_000000000000,' + SECRET)
        cls.move = cls._dte_invoice('33')
        cls.move.write({'dte_folio': 120, 'dte_status': 'sent', 'dte_service_id': 501, 'dte_sii_track_id': '0123456789'})

    def _post(self, route, payload, event, delivery=None, now=None, tamper=False, secret=SECRET):
        body = json.dumps(payload).encode()
        headers = webhook_headers(secret, body, event, delivery or str(uuid.uuid4()), now=now)
        if tamper:
            body = body.replace(b'accepted', b'rejected')
        return self._open('/dte/webhook/' + route, body, headers)

    def _open(self, url, body, headers):
        res = self.url_open(url, data=body, headers=headers)
        self.env.invalidate_all()  # the request changed the records behind this env's cache
        return res

    def _status_payload(self, new_status='accepted', folio=120, rut=COMPANY_RUT):
        return {
            'event': 'dte.status_changed', 'id': 501, 'dte_type': '33', 'folio': folio, 'track_id': '0123456789',
            'rut_emisor': rut, 'old_status': 'sent', 'new_status': new_status, 'sii_status': 'EPR',
            'status_display': 'Envío procesado: aceptado', 'error_message': None,
            'timestamp': '2026-11-28T10:15:00.000Z',
        }

    def test_status_update_valid(self):
        res = self._post('status_update', self._status_payload(), 'dte.status_changed')
        self.assertEqual(res.status_code, 200, res.text)
        self.assertEqual(res.json()['status'], 'ok')
        self.assertEqual(self.move.dte_status, 'accepted')
        note = self.move.message_ids[0]
        self.assertEqual(note.subtype_id, self.env.ref('mail.mt_note'))
        self.assertIn('Enviado al SII', note.body)
        self.assertIn('Aceptado', note.body)
        self.assertIn('Envío procesado: aceptado', note.body)

    def test_status_update_tampered(self):
        res = self._post('status_update', self._status_payload(), 'dte.status_changed', tamper=True)
        self.assertEqual(res.status_code, 401)
        self.assertEqual(res.json()['error'], 'ERR_SIGNATURE_INVALID')
        self.assertEqual(self.move.dte_status, 'sent')

    def test_status_update_wrong_secret_and_missing_signature(self):
        res = self._post('status_update', self._status_payload(), 'dte.status_changed', secret='x' * 40)
        self.assertEqual(res.status_code, 401)
        res = self._open('/dte/webhook/status_update', json.dumps(self._status_payload()).encode(),
                         {'Content-Type': 'application/json'})
        self.assertEqual(res.status_code, 401)
        self.assertEqual(res.json()['error'], 'ERR_SIGNATURE_MISSING')
        self.assertEqual(self.move.dte_status, 'sent')

    def test_status_update_replayed_old_timestamp(self):
        res = self._post('status_update', self._status_payload(), 'dte.status_changed', now=time.time() - 600)
        self.assertEqual(res.status_code, 401)
        self.assertEqual(res.json()['error'], 'ERR_TIMESTAMP_OUT_OF_WINDOW')
        self.assertEqual(self.move.dte_status, 'sent')

    def test_repeated_delivery_is_idempotent(self):
        delivery = str(uuid.uuid4())
        res = self._post('status_update', self._status_payload(), 'dte.status_changed', delivery=delivery)
        self.assertEqual(res.json()['status'], 'ok')
        notes = len(self.move.message_ids)
        res = self._post('status_update', self._status_payload(), 'dte.status_changed', delivery=delivery)
        self.assertEqual(res.status_code, 200)
        self.assertEqual(res.json()['status'], 'duplicate')
        self.assertEqual(len(self.move.message_ids), notes)
        self.assertEqual(self.env['dte.webhook.delivery'].search_count([('delivery_id', '=', delivery)]), 1)

    def test_late_status_never_goes_backwards(self):
        self._post('status_update', self._status_payload('accepted'), 'dte.status_changed')
        res = self._post('status_update', self._status_payload('sent'), 'dte.status_changed')
        self.assertEqual(res.status_code, 200)
        self.assertEqual(res.json()['status'], 'ignored')
        self.assertEqual(self.move.dte_status, 'accepted')

    def test_unknown_document_404(self):
        res = self._post('status_update', self._status_payload(folio=999), 'dte.status_changed')
        self.assertEqual(res.status_code, 404)
        res = self._post('status_update', self._status_payload(rut='77894717-K'), 'dte.status_changed')
        self.assertEqual(res.status_code, 404)

    def test_bad_body_400(self):
        body = b'not json'
        headers = webhook_headers(SECRET, body, 'dte.status_changed', str(uuid.uuid4()))
        res = self._open('/dte/webhook/status_update', body, headers)
        self.assertEqual(res.status_code, 400)
        payload = self._status_payload()
        del payload['new_status']
        self.assertEqual(self._post('status_update', payload, 'dte.status_changed').status_code, 400)

    def test_error_alert(self):
        payload = {'event': 'dte.error', 'id': 501, 'dte_type': '33', 'folio': 120, 'rut_emisor': COMPANY_RUT,
                   'error_code': 'ERR_DTE_FAILED', 'error_message': 'firma inválida',
                   'timestamp': '2026-11-28T10:15:00.000Z'}
        res = self._post('error_alert', payload, 'dte.error')
        self.assertEqual(res.status_code, 200, res.text)
        self.assertEqual(self.move.dte_status, 'error')
        self.assertIn('firma inválida', self.move.dte_error_message)
        self.assertIn('ERR_DTE_FAILED', self.move.message_ids[0].body)
        self.assertEqual(self._post('error_alert', dict(payload, folio=777), 'dte.error').status_code, 404)

    def _news_payload(self, prioridad, numero='45'):
        return {'event': 'sii.regulatory_change', 'tipo': 'circular', 'numero': numero, 'fecha': '2026-11-20',
                'vigencia': '2027-01-01', 'titulo': 'Circular N° %s: nuevo formato de boleta' % numero,
                'resumen': 'Cambia el formato de la boleta electrónica.', 'impacto': 'Actualizar el emisor.',
                'prioridad': prioridad, 'url': 'https://www.sii.cl/normativa_legislacion/circulares/2026/circu%s.pdf' % numero,
                'timestamp': '2026-11-20T12:00:00.000Z'}

    def test_sii_change_creates_news_and_notifies_admins(self):
        admin_partner = self.env.ref('base.user_admin').partner_id
        res = self._post('sii_change', self._news_payload(9), 'sii.regulatory_change')
        self.assertEqual(res.status_code, 200, res.text)
        news = self.env['dte.sii.news'].search([('numero', '=', '45')])
        self.assertEqual(len(news), 1)
        self.assertEqual(news.prioridad, 9)
        self.assertEqual(news.priority_level, 'alta')
        self.assertTrue(news.admins_notified)
        message = news.message_ids.filtered(lambda m: admin_partner in m.partner_ids)
        self.assertTrue(message)
        self.assertTrue(self.env['mail.notification'].search_count([
            ('mail_message_id', 'in', message.ids), ('res_partner_id', '=', admin_partner.id)]))
        # the same publication again (another delivery): updated, not duplicated, not notified twice
        res = self._post('sii_change', dict(self._news_payload(9), resumen='Texto corregido'), 'sii.regulatory_change')
        self.assertEqual(res.json()['result'], 'updated')
        self.assertEqual(self.env['dte.sii.news'].search_count([('numero', '=', '45')]), 1)
        self.assertEqual(news.resumen, 'Texto corregido')
        self.assertEqual(len(news.message_ids.filtered(lambda m: admin_partner in m.partner_ids)), 1)

    def test_sii_change_low_priority_does_not_notify(self):
        res = self._post('sii_change', self._news_payload(5, numero='46'), 'sii.regulatory_change')
        self.assertEqual(res.status_code, 200, res.text)
        news = self.env['dte.sii.news'].search([('numero', '=', '46')])
        self.assertTrue(news)
        self.assertFalse(news.admins_notified)
        res = self._post('sii_change', dict(self._news_payload(5, numero='47'), tipo='rumor'), 'sii.regulatory_change')
        self.assertEqual(res.status_code, 400)

    def test_no_secret_configured_503(self):
        self.env['ir.config_parameter'].sudo().set_param('l10n_cl_dte.webhook_secret', '')
        with self.assertLogs('odoo.addons.l10n_cl_dte.controllers.webhook', 'ERROR'):
            res = self._post('status_update', self._status_payload(), 'dte.status_changed')
        self.assertEqual(res.status_code, 503)
