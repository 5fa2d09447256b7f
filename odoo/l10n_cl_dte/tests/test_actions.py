"""The move's actions with the HTTP boundary patched (``TimbreClient`` methods return the service's
real answer shapes, or raise ``TimbreServiceError`` as the client does for a problem+json)."""
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..lib.client import TimbreClient, TimbreServiceError
from .common import DteTestCommon, generate_answer, status_answer

PDF = b'%PDF-1.4 test'


@tagged('post_install_l10n', 'post_install', '-at_install')
class TestDteActions(DteTestCommon):

    def test_generate_and_send_stores_the_result(self):
        move = self._dte_invoice('33')
        with patch.object(TimbreClient, 'generate', return_value=generate_answer(folio=120)) as gen, \
                patch.object(TimbreClient, 'pdf', return_value=PDF):
            move.action_generate_and_send_dte()
        payload, key = gen.call_args.args
        self.assertEqual(payload['dte_type'], '33')
        self.assertEqual(payload['folio'] if 'folio' in payload else 0, 0)
        self.assertTrue(key.startswith('odoo-') and key.endswith('-move-%d-g0' % move.id))
        self.assertEqual(move.dte_folio, 120)
        self.assertEqual(move.dte_status, 'sent')
        self.assertEqual(move.dte_sii_track_id, '0123456789')
        self.assertEqual(move.dte_service_id, 501)
        self.assertIn('<DTE version="1.0">', move.dte_xml)
        self.assertEqual(move.dte_idempotency_key, key)
        self.assertEqual(move.dte_pdf_attachment_id.raw, PDF)
        self.assertEqual(move.dte_pdf_attachment_id.res_id, move.id)
        self.assertIn('120', move.message_ids[0].body)
        # sent: a second send is refused (the SII has it)
        with self.assertRaises(UserError):
            move.action_generate_and_send_dte()

    def test_retry_after_connection_error_reuses_the_key(self):
        move = self._dte_invoice('33')
        err = TimbreServiceError(0, 'ERR_UNREACHABLE', 'no se pudo conectar')
        with patch.object(TimbreClient, 'generate', side_effect=err) as gen:
            move.action_generate_and_send_dte()
        first_key = gen.call_args.args[1]
        self.assertEqual(move.dte_status, 'error')
        self.assertIn('ERR_UNREACHABLE', move.dte_error_message)
        with patch.object(TimbreClient, 'generate', return_value=generate_answer()) as gen, \
                patch.object(TimbreClient, 'pdf', return_value=PDF):
            move.action_generate_and_send_dte()
        self.assertEqual(gen.call_args.args[1], first_key)
        self.assertEqual(move.dte_status, 'sent')
        self.assertFalse(move.dte_error_message)

    def test_validation_refusal_uses_a_new_key_next_time(self):
        move = self._dte_invoice('33')
        err = TimbreServiceError(422, 'ERR_VALIDATION', 'documento inválido',
                                 fields=[{'field': 'receptor.giro', 'message': 'requerido', 'code': 'ERR_REQUIRED'}])
        with patch.object(TimbreClient, 'generate', side_effect=err) as gen:
            move.action_generate_and_send_dte()
        first_key = gen.call_args.args[1]
        self.assertEqual(move.dte_status, 'error')
        self.assertIn('receptor.giro', move.dte_error_message)
        with patch.object(TimbreClient, 'generate', return_value=generate_answer()) as gen, \
                patch.object(TimbreClient, 'pdf', return_value=PDF):
            move.action_generate_and_send_dte()
        self.assertNotEqual(gen.call_args.args[1], first_key)

    def test_draft_invoice_is_refused(self):
        move = self._dte_invoice('33', post=False)
        with patch.object(TimbreClient, 'generate') as gen, self.assertRaises(UserError):
            move.action_generate_and_send_dte()
        gen.assert_not_called()

    def test_check_status_applies_and_notes(self):
        move = self._dte_invoice('33')
        move.write({'dte_folio': 120, 'dte_status': 'sent', 'dte_service_id': 501, 'dte_sii_track_id': '0123456789'})
        with patch.object(TimbreClient, 'status', return_value=status_answer()) as st, \
                patch.object(TimbreClient, 'pdf', return_value=PDF):
            move.action_check_dte_status()
        st.assert_called_once_with('76086428-5', '33', 120, track_id='0123456789')
        self.assertEqual(move.dte_status, 'accepted')
        self.assertTrue(move.dte_last_status_check)
        self.assertTrue(move.dte_pdf_attachment_id)
        note = move.message_ids[0]
        self.assertEqual(note.subtype_id, self.env.ref('mail.mt_note'))
        self.assertIn('Aceptado', note.body)
        self.assertIn('Envío procesado', note.body)
        # never backwards: a late "sent" is ignored
        self.assertFalse(move._dte_apply_status({'new_status': 'sent'}, 'webhook'))
        self.assertEqual(move.dte_status, 'accepted')

    def test_cron_polls_pending_documents_and_tolerates_errors(self):
        ok = self._dte_invoice('33')
        ok.write({'dte_folio': 1, 'dte_status': 'sent'})
        failing = self._dte_invoice('33')
        failing.write({'dte_folio': 2, 'dte_status': 'sent'})
        done = self._dte_invoice('33')
        done.write({'dte_folio': 3, 'dte_status': 'accepted'})

        def fake_status(client, rut, dte_type, folio, track_id=None):
            if folio == 2:
                raise TimbreServiceError(503, 'ERR_SII_UNAVAILABLE', 'SII no disponible')
            return status_answer(folio=folio)

        with patch.object(TimbreClient, 'status', autospec=True, side_effect=fake_status) as st, \
                patch.object(TimbreClient, 'pdf', return_value=PDF):
            self.env['account.move']._cron_dte_poll_status()
        polled = sorted(c.args[3] for c in st.call_args_list)
        self.assertEqual(polled, [1, 2])
        self.assertEqual(ok.dte_status, 'accepted')
        self.assertEqual(failing.dte_status, 'sent')
        self.assertTrue(failing.dte_last_status_check)
        # checked just now: not polled again before poll_after_minutes
        with patch.object(TimbreClient, 'status', autospec=True, side_effect=fake_status) as st:
            self.env['account.move']._cron_dte_poll_status()
        st.assert_not_called()

    def test_ai_prevalidate_opens_the_wizard(self):
        move = self._dte_invoice('33')
        action = move.action_ai_prevalidate()
        self.assertEqual(action['res_model'], 'dte.ai.validation.wizard')
        self.assertEqual(action['context']['default_move_id'], move.id)

    def test_settings_test_connection_and_register_webhooks(self):
        settings = self.env['res.config.settings'].create({})
        health = {'dte': {'ok': True, 'detail': 'ok'}, 'ai': {'ok': False, 'detail': 'ERR_UNREACHABLE'}}
        with patch.object(TimbreClient, 'health', return_value=health), \
                patch.object(TimbreClient, 'caf_status', return_value={'tipos': []}) as caf:
            action = settings.action_dte_test_connection()
        self.assertEqual(action['params']['type'], 'danger')
        caf.assert_called_once()
        # /health needs no key: the credentials are checked by an authenticated read
        all_ok = {'dte': {'ok': True, 'detail': 'ok'}, 'ai': {'ok': True, 'detail': 'ok'}}
        refused = TimbreServiceError(401, 'ERR_AUTH_INVALID', 'invalid token')
        with patch.object(TimbreClient, 'health', return_value=all_ok), patch.object(TimbreClient, 'caf_status', side_effect=refused):
            action = self.env['res.config.settings'].create({}).action_dte_test_connection()
        self.assertEqual(action['params']['type'], 'danger')
        self.assertIn('ERR_AUTH_INVALID', action['params']['message'])
        with patch.object(TimbreClient, 'health', return_value=all_ok), patch.object(TimbreClient, 'caf_status', return_value={'tipos': []}):
            action = self.env['res.config.settings'].create({}).action_dte_test_connection()
        self.assertEqual(action['params']['type'], 'success')
        calls = []

        def fake_register(client, rut, url, events, secret=None):
            calls.append((rut, url, events, secret))
            return len(calls), secret or 'whsec_' + 'x' * 40

        settings = self.env['res.config.settings'].create({})
        with patch.object(TimbreClient, 'register_webhook', autospec=True, side_effect=fake_register):
            settings.action_dte_register_webhooks()
        self.assertEqual([c[1].rsplit('/', 1)[1] for c in calls], ['status_update', 'error_alert'])
        self.assertEqual(calls[0][2], ['dte.status_changed'])
        self.assertEqual(calls[1][3], 'whsec_' + 'x' * 40)
        self.assertEqual(self.env['ir.config_parameter'].sudo().get_param('l10n_cl_dte.webhook_secret'),
                         'whsec_' + 'x' * 40)
        # registering again reuses the configured secret (no new one to copy to the AI service) and
        # deletes the subscriptions of the first press (ids 1 and 2)
        calls.clear()
        with patch.object(TimbreClient, 'register_webhook', autospec=True, side_effect=fake_register), \
                patch.object(TimbreClient, 'delete_webhook', return_value=True) as delete:
            self.env['res.config.settings'].create({}).action_dte_register_webhooks()
        self.assertEqual([c[3] for c in calls], ['whsec_' + 'x' * 40] * 2)
        self.assertEqual([c.args for c in delete.call_args_list], [(1,), (2,)])

    def test_batch_refresh_applies_progress(self):
        moves = self._dte_invoice('33') + self._dte_invoice('33')
        batch = self.env['dte.batch'].create({'batch_id': '3f0c2a51-8c1e-4b7a-9d51-6f1c2b3a4d5e', 'total': 2,
                                              'move_ids': [(6, 0, moves.ids)], 'company_id': self.company.id})
        self.assertEqual(len(batch.line_ids), 2)
        first, second = batch.line_ids.sorted('index').move_id
        answer = {
            'batch_id': batch.batch_id, 'rut_emisor': '76086428-5', 'total': 2, 'done': 2, 'status': 'done',
            'counts': {'sent': 1, 'error': 1}, 'created_at': '2026-11-28T10:00:00Z',
            'documents': [
                {'index': 0, 'id': 901, 'dte_type': '33', 'folio': 130, 'status': 'sent', 'sii_track_id': '77',
                 'sii_status': None, 'error_code': None, 'error_message': None},
                {'index': 1, 'id': None, 'dte_type': '33', 'folio': None, 'status': 'error', 'sii_track_id': None,
                 'sii_status': None, 'error_code': 'ERR_VALIDATION', 'error_message': 'receptor.giro requerido'},
            ],
        }
        with patch.object(TimbreClient, 'batch_status', return_value=answer):
            batch.action_refresh()
        self.assertEqual(batch.state, 'done')
        self.assertEqual(batch.progress, 100.0)
        self.assertEqual(first.dte_folio, 130)
        self.assertEqual(first.dte_status, 'sent')
        self.assertEqual(second.dte_status, 'error')
        self.assertIn('receptor.giro', batch.line_ids.sorted('index')[1].error_message)
