"""Data preparation: ``account.move._dte_snapshot()`` → ``lib.payload.build_dte_payload`` for each
document type, on real Odoo invoices of a Chilean company."""
from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import COMPANY_RUT, DteTestCommon


@tagged('post_install_l10n', 'post_install', '-at_install')
class TestDtePayloadOdoo(DteTestCommon):

    def test_33_snapshot_and_payload(self):
        move = self._dte_invoice('33', lines=[
            ('Servicio de soporte', 2, 45990, 0, self.iva),
            ('Licencia anual', 1, 15000, 10, self.iva),
        ])
        self.assertEqual(move.dte_type, '33')
        self.assertEqual(move.dte_status, 'not_sent')
        snap = move._dte_snapshot()
        self.assertEqual(snap['company']['vat'], COMPANY_RUT)
        self.assertEqual(snap['company']['acteco'], [620200])
        self.assertEqual(snap['partner']['taxpayer_type'], '1')
        self.assertEqual(len(snap['lines']), 2)
        self.assertEqual(snap['lines'][1]['discount'], 10.0)
        self.assertFalse(snap['lines'][0]['exempt'])
        self.assertEqual(snap['references'], [])
        payload = move._dte_payload()
        self.assertEqual(payload['dte_type'], '33')
        self.assertEqual(payload['emisor']['rut'], COMPANY_RUT)
        self.assertEqual(payload['receptor']['rut'], '76201224-3')
        totals = payload['totales']
        # 91980 + 13500 = 105480 neto; IVA 19 % = 20041.2 → 20041
        self.assertEqual(totals['monto_neto'], 105480)
        self.assertEqual(totals['iva'], 20041)
        self.assertEqual(totals['monto_total'], 125521)
        self.assertEqual(totals['monto_total'], round(move.amount_total))
        self.assertEqual(len(payload['items']), 2)

    def test_34_exempt(self):
        move = self._dte_invoice('34', lines=[('Curso de capacitación', 3, 10000, 0, None)])
        snap = move._dte_snapshot()
        self.assertTrue(snap['lines'][0]['exempt'])
        self.assertEqual(snap['amounts']['exempt'], 30000)
        payload = move._dte_payload()
        self.assertEqual(payload['totales'].get('iva', 0), 0)
        self.assertEqual(payload['totales']['monto_exento'], 30000)
        self.assertEqual(payload['totales']['monto_total'], 30000)

    def test_39_boleta_end_consumer(self):
        move = self._dte_invoice('39', partner=self.end_consumer,
                                 lines=[('Café', 2, 2521, 0, self.iva)])
        payload = move._dte_payload()
        self.assertEqual(payload['dte_type'], '39')
        self.assertEqual(payload['totales']['monto_total'], round(move.amount_total))

    def test_39_boleta_with_iva_included_prices(self):
        # Boletas are usually priced IVA included: the detail must carry the net unit price.
        iva_included = self.iva.copy({'name': 'IVA 19% incluido', 'price_include_override': 'tax_included'})
        self.assertTrue(iva_included.price_include)
        move = self._dte_invoice('39', partner=self.end_consumer,
                                 lines=[('Almuerzo ejecutivo', 3, 5990, 0, iva_included), ('Bebida', 2, 1500, 10, iva_included)])
        self.assertEqual(round(move.amount_total), 3 * 5990 + round(2 * 1500 * 0.9))
        snap = move._dte_snapshot()
        self.assertAlmostEqual(snap['lines'][0]['price_unit'], move.invoice_line_ids[0].price_subtotal / 3, places=6)
        payload = move._dte_payload()
        self.assertEqual(payload['totales']['monto_total'], round(move.amount_total))

    def test_61_credit_note_references_reversed_invoice(self):
        invoice = self._dte_invoice('33')
        invoice.write({'dte_folio': 120, 'dte_status': 'accepted'})
        wizard = self.env['account.move.reversal'].with_context(
            active_model='account.move', active_ids=invoice.ids).create({
                'reason': 'Anula factura', 'journal_id': invoice.journal_id.id})
        refund = self.env['account.move'].browse(wizard.refund_moves()['res_id'])
        refund.l10n_latam_document_type_id = self.doc_types['61']
        refund.action_post()
        self.assertEqual(refund.dte_type, '61')
        refs = refund._dte_snapshot()['references']
        self.assertEqual(len(refs), 1)
        self.assertEqual(refs[0]['doc_type'], '33')
        self.assertEqual(refs[0]['folio'], '120')
        self.assertEqual(refs[0]['code'], 1)
        payload = refund._dte_payload()
        self.assertEqual(payload['referencias'][0]['codigo'], 1)
        self.assertEqual(payload['referencias'][0]['tipo_documento'], '33')
        self.assertEqual(payload['referencias'][0]['folio'], 120)

    def test_56_debit_note_with_explicit_reference(self):
        move = self._dte_invoice('56', lines=[('Intereses por mora', 1, 5000, 0, self.iva)], post=False)
        move.dte_reference_ids = [Command.create({
            'doc_type': '33', 'folio': '118', 'date': '2026-11-01', 'code': '3', 'reason': 'Intereses'})]
        move.action_post()
        payload = move._dte_payload()
        self.assertEqual(payload['dte_type'], '56')
        self.assertEqual(payload['referencias'][0]['codigo'], 3)
        self.assertEqual(payload['referencias'][0]['folio'], 118)

    def test_61_without_reference_is_refused(self):
        move = self._dte_invoice('61', move_type='out_refund')
        with self.assertRaisesRegex(UserError, 'referencias'):
            move._dte_payload()

    def test_missing_acteco_names_the_field(self):
        move = self._dte_invoice('33')
        self.company.dte_acteco = False
        with self.assertRaisesRegex(UserError, 'emisor.acteco'):
            move._dte_payload()
