"""Shared set-up of the addon's Odoo tests: a Chilean company (CL chart, RUT, giro, Acteco), Chilean
customers, IVA and exempt taxes, and faithful copies of the DTE service's answers (shapes read from
services/dte/src/services/issuer.ts and routes/dte.ts)."""
from odoo import Command, fields
from odoo.addons.account.tests.common import AccountTestInvoicingCommon

COMPANY_RUT = '76086428-5'


def generate_answer(folio=120, dte_type='33', status='sent', service_id=501, track_id='0123456789', errors=None):
    """``200`` of ``POST /api/v1/dte/generate`` (GenerateResponse)."""
    return {
        'id': service_id,
        'folio': folio,
        'dte_type': dte_type,
        'fecha_emision': '2026-11-28',
        'status': status,
        'xml_signed': '<?xml version="1.0" encoding="ISO-8859-1"?><DTE version="1.0"><Documento ID="T%sF%s">'
                      '<Encabezado/></Documento><Signature/></DTE>' % (dte_type, folio),
        'xml_unsigned': '<DTE version="1.0"/>',
        'ted': '<TED version="1.0"/>',
        'sii_track_id': track_id,
        'sii_accepted': False,
        'errors': errors or [],
    }


def status_answer(folio=120, dte_type='33', status='accepted', service_id=501, track_id='0123456789'):
    """``200`` of ``GET /api/v1/dte/status`` (StatusResponse)."""
    return {
        'id': service_id,
        'folio': folio,
        'dte_type': dte_type,
        'track_id': track_id,
        'status': status,
        'sii_status': 'EPR' if status == 'accepted' else 'RCH',
        'status_display': 'Envío procesado' if status == 'accepted' else 'Rechazado',
        'error_message': None,
        'fecha_revision': '2026-11-28 10:15:00',
        'final': status in ('accepted', 'rejected'),
    }


class DteTestCommon(AccountTestInvoicingCommon):

    @classmethod
    @AccountTestInvoicingCommon.setup_country('cl')
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.company_data['company']
        # the test user (an accountant made by AccountTestInvoicingCommon) administers DTE
        cls.env.user.group_ids += cls.env.ref('l10n_cl_dte.group_dte_admin')
        cls.company.write({
            'vat': COMPANY_RUT,
            'street': 'Av. Providencia 1234',
            'city': 'Providencia',
            'l10n_cl_activity_description': 'Desarrollo de software',
            'dte_acteco': '620200',
            'phone': '+56 2 2345 6789',
            'email': 'facturacion@example.cl',
        })
        cls.company.partner_id.l10n_cl_sii_taxpayer_type = '1'
        cls.env['ir.config_parameter'].sudo().set_param('l10n_cl_dte.dte_service_url', 'http://dte.invalid')
        cls.env['ir.config_parameter'].sudo().set_param('l10n_cl_dte.ai_service_url', 'http://ai.invalid')
        cls.env['ir.config_parameter'].sudo().set_param('l10n_cl_dte.api_key', 'test-key')
        country_cl = cls.env.ref('base.cl')
        rut_type = cls.env.ref('l10n_cl.it_RUT')
        cls.cl_partner = cls.env['res.partner'].create({
            'name': 'Cliente Uno SpA',
            'country_id': country_cl.id,
            'l10n_latam_identification_type_id': rut_type.id,
            'vat': '76201224-3',
            'l10n_cl_sii_taxpayer_type': '1',
            'l10n_cl_activity_description': 'Comercio al por menor',
            'street': 'Huérfanos 1000',
            'city': 'Santiago',
            'email': 'pagos@cliente.cl',
        })
        cls.end_consumer = cls.env.ref('l10n_cl.par_cfa')
        cls.iva = cls.company_data['default_tax_sale']
        assert cls.iva.l10n_cl_sii_code == 14, 'the CL chart default sale tax is IVA'
        cls.doc_types = {code: cls.env['l10n_latam.document.type'].search(
            [('code', '=', code), ('country_id', '=', country_cl.id)], limit=1) for code in ('33', '34', '39', '56', '61')}
        cls.sale_journal = cls.company_data['default_journal_sale']

    @classmethod
    def _dte_invoice(cls, doc='33', lines=None, partner=None, move_type='out_invoice', post=True, **extra):
        """A customer document of SII type ``doc``; ``lines``: [(name, qty, price, discount, taxes)]."""
        lines = lines or [('Servicio de soporte', 2, 45990, 0, cls.iva)]
        move = cls.env['account.move'].create({
            'move_type': move_type,
            'partner_id': (partner or cls.cl_partner).id,
            'journal_id': cls.sale_journal.id,
            'invoice_date': fields.Date.to_date('2026-11-28'),
            'l10n_latam_document_type_id': cls.doc_types[doc].id,
            'invoice_line_ids': [Command.create({
                'name': name, 'quantity': qty, 'price_unit': price, 'discount': disc,
                'tax_ids': [Command.set(taxes.ids if taxes else [])],
            }) for name, qty, price, disc, taxes in lines],
            **extra,
        })
        if post:
            move.action_post()
        return move
