"""Odoo tests of the AI pre-validation wizard and the batch wizard (VIEWS helper).

The HTTP boundary is ``TimbreClient`` (``lib/client.py``): its methods are patched with the real
answer shapes of the Timbre services (services/ai/src/routes/prevalidate.ts,
services/dte/src/routes/batch.ts), so everything from ``account.move._dte_snapshot()`` through
``build_dte_payload`` to the records and views runs for real on a Chilean company.
"""
from unittest.mock import patch

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.addons.l10n_cl_dte.lib.client import TimbreClient, TimbreServiceError
from odoo.addons.l10n_cl_dte.lib.payload import PayloadError

#: A valid verdict of the deterministic engine with Claude's review (prevalidate.ts' answer shape).
PREVALIDATE_VALID = {
    'is_valid': True,
    'issues': [
        {'code': 'AI_PLAUSIBILITY_AMOUNT', 'field': 'items[0].precio_unitario', 'severity': 'warning',
         'message': 'Precio unitario alto para el giro; verifique.', 'source': 'claude'},
    ],
    'recommendations': ['Detalle en la descripción el modelo exacto de los equipos vendidos.'],
    'confidence': 0.97,
    'ai_confidence': 0.8,
    'engine': 'deterministic+claude',
    'model': 'claude-test',
    'context_sources': ['timbre'],
}

#: An invalid verdict: wrong IVA (the engine's PV_TOTAL_IVA) and a context lookup that failed.
PREVALIDATE_INVALID = {
    'is_valid': False,
    'issues': [
        {'code': 'PV_TOTAL_IVA', 'field': 'totales.iva', 'severity': 'error',
         'message': 'El IVA declarado (1) no corresponde a round(neto × 19 %) (190).',
         'sii_rejection': 'RCH: DTE Rechazado (montos descuadrados; TED-3-640 Monto del timbre no corresponde)',
         'expected': 190, 'actual': 1, 'source': 'deterministic'},
        {'code': 'PV_ACTECO', 'field': 'emisor.acteco', 'severity': 'warning',
         'message': 'Código de actividad económica ausente.', 'source': 'deterministic'},
    ],
    'recommendations': ['Calcule el IVA como round(neto × 19 %), redondeando a peso entero (0,5 hacia arriba).'],
    'confidence': 0.99,
    'engine': 'deterministic',
    'context_sources': [],
    'context_error': {'code': 'ERR_DTE_SERVICE', 'message': 'the DTE service lookup failed'},
}


class DteViewsCommon(AccountTestInvoicingCommon):
    """A Chilean company (RUT, giro, address), a Chilean customer and posted facturas (33)."""

    @classmethod
    @AccountTestInvoicingCommon.setup_country('cl')
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.company_data['company']
        cls.company.write({
            'vat': '76086428-5',
            'l10n_cl_activity_description': 'Desarrollo de software',
            'street': 'Av. Apoquindo 1234',
            'city': 'Santiago',
            'email': 'facturacion@example.cl',
            'phone': '+56 2 2345 6789',
            'dte_acteco': '620200',
        })
        cls.company.partner_id.l10n_cl_sii_taxpayer_type = '1'
        cls.env.user.group_ids |= cls.env.ref('l10n_cl_dte.group_dte_admin')
        # The HTTP boundary (TimbreClient methods) is patched in each test; the client needs URLs.
        icp = cls.env['ir.config_parameter'].sudo()
        icp.set_param('l10n_cl_dte.dte_service_url', 'http://dte.timbre.test')
        icp.set_param('l10n_cl_dte.ai_service_url', 'http://ai.timbre.test')
        icp.set_param('l10n_cl_dte.api_key', 'test-api-key')
        cls.cl_customer = cls.env['res.partner'].create({
            'name': 'Cliente Chileno SpA',
            'country_id': cls.env.ref('base.cl').id,
            'l10n_latam_identification_type_id': cls.env.ref('l10n_cl.it_RUT').id,
            'vat': '76201224-3',
            'l10n_cl_sii_taxpayer_type': '1',
            'l10n_cl_activity_description': 'Comercio minorista',
            'street': 'Calle Falsa 123',
            'city': 'Santiago',
            'email': 'cliente@example.cl',
        })

    @classmethod
    def _cl_invoice(cls, post=True, price=1000.0, **kwargs):
        """A factura (33) to the Chilean customer with one line at 19 % IVA."""
        return cls._create_invoice(
            move_type='out_invoice',
            partner_id=cls.cl_customer.id,
            journal_id=cls.company_data['default_journal_sale'].id,
            invoice_line_ids=[Command.create({
                'product_id': cls.product_a.id,
                'name': 'Servicio de desarrollo',
                'quantity': 1.0,
                'price_unit': price,
                'tax_ids': [Command.set(cls.company_data['default_tax_sale'].ids)],
            })],
            post=post,
            **kwargs,
        )


@tagged('post_install_l10n', 'post_install', '-at_install')
class TestDteAiValidationWizard(DteViewsCommon):
    """``dte.ai.validation.wizard``: the prevalidate call, the issues, the send button."""

    def _open(self, move, answer):
        with patch.object(TimbreClient, 'prevalidate', autospec=True, return_value=answer) as mocked:
            wizard = self.env['dte.ai.validation.wizard'].with_context(default_move_id=move.id).create({})
        return wizard, mocked

    def test_valid_lists_issues_and_recommendations(self):
        move = self._cl_invoice()
        wizard, mocked = self._open(move, PREVALIDATE_VALID)
        self.assertEqual(mocked.call_count, 1)
        _client, dte_data, company_context = mocked.call_args.args
        self.assertEqual(str(dte_data['dte_type']), '33', 'the DTE payload of the move is what gets pre-validated')
        self.assertEqual(company_context['industry'], 'Desarrollo de software')
        self.assertNotIn('historical_errors', company_context, 'no rejections: the AI service reads them itself')
        self.assertTrue(wizard.is_valid)
        self.assertEqual(wizard.engine, 'deterministic+claude')
        self.assertAlmostEqual(wizard.confidence, 0.97)
        self.assertEqual(len(wizard.issue_ids), 1)
        issue = wizard.issue_ids
        self.assertEqual((issue.code, issue.field, issue.severity, issue.source),
                         ('AI_PLAUSIBILITY_AMOUNT', 'items[0].precio_unitario', 'warning', 'claude'))
        self.assertEqual(wizard.warning_count, 1)
        self.assertIn('modelo exacto', wizard.recommendations)

    def test_invalid_hides_and_refuses_send(self):
        move = self._cl_invoice()
        wizard, _mocked = self._open(move, PREVALIDATE_INVALID)
        self.assertFalse(wizard.is_valid)
        self.assertEqual(wizard.error_count, 1)
        error = wizard.issue_ids.filtered(lambda i: i.severity == 'error')
        self.assertEqual(error.code, 'PV_TOTAL_IVA')
        self.assertIn('TED-3-640', error.sii_rejection)
        self.assertEqual(wizard.issue_ids[0], error, 'errors are listed first')
        self.assertIn('ERR_DTE_SERVICE', wizard.service_note)
        # The button is hidden by the view and refused by the server.
        arch = self.env['dte.ai.validation.wizard'].get_views([(False, 'form')])['views']['form']['arch']
        self.assertIn('invisible="not is_valid"', arch.replace("'", '"'))
        with patch.object(type(move), 'action_generate_and_send_dte', autospec=True) as send, \
                self.assertRaises(UserError):
            wizard.action_generate_and_send()
        send.assert_not_called()

    def test_valid_send_calls_move_action(self):
        move = self._cl_invoice()
        wizard, _mocked = self._open(move, PREVALIDATE_VALID)
        with patch.object(type(move), 'action_generate_and_send_dte', autospec=True, return_value=True) as send:
            result = wizard.action_generate_and_send()
        send.assert_called_once()
        self.assertEqual(send.call_args.args[0], move)
        self.assertEqual(result, {'type': 'ir.actions.act_window_close'})

    def test_service_error_is_user_error(self):
        move = self._cl_invoice()
        error = TimbreServiceError(503, 'ERR_UNAVAILABLE', 'servicio no disponible')
        with patch.object(TimbreClient, 'prevalidate', autospec=True, side_effect=error), \
                self.assertRaisesRegex(UserError, 'ERR_UNAVAILABLE'):
            self.env['dte.ai.validation.wizard'].with_context(default_move_id=move.id).create({})

    def test_payload_error_shown_without_calling_service(self):
        move = self._cl_invoice()
        error = PayloadError('receptor.rut', 'El cliente no tiene RUT.')
        with patch('odoo.addons.l10n_cl_dte.wizard.dte_ai_validation_wizard.build_dte_payload', side_effect=error), \
                patch.object(TimbreClient, 'prevalidate', autospec=True) as mocked:
            wizard = self.env['dte.ai.validation.wizard'].with_context(default_move_id=move.id).create({})
        mocked.assert_not_called()
        self.assertFalse(wizard.is_valid)
        self.assertEqual((wizard.issue_ids.field, wizard.issue_ids.source, wizard.issue_ids.severity),
                         ('receptor.rut', 'odoo', 'error'))
        self.assertIn('RUT', wizard.issue_ids.message)

    def test_recent_rejections_sent_as_historical_errors(self):
        rejected = self._cl_invoice()
        rejected.write({'dte_status': 'rejected', 'dte_error_message': 'REF-3-758 Referencia no corresponde'})
        move = self._cl_invoice()
        _wizard, mocked = self._open(move, PREVALIDATE_VALID)
        company_context = mocked.call_args.args[2]
        self.assertIn({'code': 'REF-3-758', 'message': 'REF-3-758 Referencia no corresponde'},
                      company_context['historical_errors'])

    def test_move_action_opens_wizard(self):
        """The move's ``action_ai_prevalidate`` opens this wizard; saving it (as the web client does
        before a button) keeps the answer shown and does not call the service a second time."""
        move = self._cl_invoice()
        action = move.action_ai_prevalidate()
        self.assertEqual(action['res_model'], 'dte.ai.validation.wizard')
        with patch.object(TimbreClient, 'prevalidate', autospec=True, return_value=PREVALIDATE_INVALID) as mocked:
            form = Form(self.env['dte.ai.validation.wizard'].with_context(action.get('context') or {}))
            self.assertEqual(form.move_id, move)
            self.assertFalse(form.is_valid)
            wizard = form.save()
        self.assertEqual(mocked.call_count, 1, 'saving the wizard does not pre-validate again')
        self.assertEqual(wizard.move_id, move)
        self.assertEqual(sorted(wizard.issue_ids.mapped('code')), ['PV_ACTECO', 'PV_TOTAL_IVA'])
        self.assertEqual(wizard.issue_ids.filtered(lambda i: i.code == 'PV_TOTAL_IVA').severity, 'error')
        self.assertIn('round(neto', wizard.recommendations)
        with self.assertRaises(UserError):
            wizard.action_generate_and_send()


@tagged('post_install_l10n', 'post_install', '-at_install')
class TestDteBatchWizard(DteViewsCommon):
    """``dte.batch.wizard``: eligibility, one batch call, the ``dte.batch`` record."""

    def _wizard(self, moves):
        return self.env['dte.batch.wizard'].with_context(
            active_model='account.move', active_ids=moves.ids).create({})

    def test_refuses_non_eligible(self):
        draft = self._cl_invoice(post=False)
        accepted = self._cl_invoice()
        accepted.dte_status = 'accepted'
        wizard = self._wizard(draft | accepted)
        self.assertEqual(wizard.eligible_count, 0)
        self.assertEqual(wizard.refused_count, 2)
        self.assertIn('no está publicado', wizard.refused_reasons)
        with patch.object(TimbreClient, 'batch', autospec=True) as batch, self.assertRaises(UserError):
            wizard.action_send()
        batch.assert_not_called()

    def test_sends_eligible_and_creates_batch(self):
        first, second = self._cl_invoice(), self._cl_invoice(price=2500.0)
        sent = self._cl_invoice()
        sent.dte_status = 'sent'
        draft = self._cl_invoice(post=False)
        wizard = self._wizard(first | second | sent | draft)
        self.assertEqual(wizard.eligible_move_ids, first | second)
        answer = {'batch_id': 'b-7f3c', 'total': 2, 'accepted': 2, 'refused': []}
        with patch.object(TimbreClient, 'batch', autospec=True, return_value=answer) as batch:
            action = wizard.action_send()
        self.assertEqual(batch.call_count, 1, 'one call for the whole batch')
        documents = batch.call_args.args[1]
        self.assertEqual(len(documents), 2)
        self.assertTrue(all(str(d['dte_type']) == '33' for d in documents))
        self.assertEqual(action['res_model'], 'dte.batch')
        record = self.env['dte.batch'].browse(action['res_id'])
        self.assertEqual(record.batch_id, 'b-7f3c')
        self.assertEqual(record.total, 2)
        self.assertEqual(record.move_ids, first | second)
        self.assertEqual(record.line_ids.mapped('index'), [0, 1])
        self.assertEqual(set((first | second).mapped('dte_status')), {'draft'}, 'queued at the service')
        again = self._wizard(first | second)
        self.assertEqual(again.eligible_count, 0, 'a queued document is never batched twice')
        self.assertIn('Borrador', again.refused_reasons)

    def test_batch_wizard_form(self):
        """Opened from the invoice list (Action menu): the selection survives the save."""
        move = self._cl_invoice()
        action = self.env.ref('l10n_cl_dte.action_dte_batch_wizard')
        self.assertEqual(action.binding_model_id.model, 'account.move')
        form = Form(self.env['dte.batch.wizard'].with_context(active_model='account.move', active_ids=move.ids))
        self.assertEqual(form.eligible_count, 1)
        wizard = form.save()
        self.assertEqual(wizard.move_ids, move)
        answer = {'batch_id': 'b-1', 'total': 1, 'accepted': 0,
                  'refused': [{'index': 0, 'code': 'ERR_VALIDATION', 'message': 'receptor.rut inválido', 'field': 'receptor.rut'}]}
        with patch.object(TimbreClient, 'batch', autospec=True, return_value=answer):
            action = wizard.action_send()
        line = self.env['dte.batch'].browse(action['res_id']).line_ids
        self.assertEqual((line.move_id, line.status), (move, 'refused'))
        self.assertIn('ERR_VALIDATION', line.error_message)
        self.assertEqual(move.dte_status, 'error')
        self.assertIn('receptor.rut', move.dte_error_message)

    def test_batch_form_has_progress_bar(self):
        arch = self.env['dte.batch'].get_views([(False, 'form')])['views']['form']['arch']
        self.assertIn('progressbar', arch)
