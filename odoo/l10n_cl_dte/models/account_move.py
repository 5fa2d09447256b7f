"""``account.move`` extension: issue an invoice as a DTE through the Timbre DTE service.

The move keeps what the service answered (folio, status, SII track id, signed XML, PDF) in fields
prefixed ``dte_`` so that they never clash with Odoo Enterprise's ``l10n_cl_edi`` (which uses
``l10n_cl_dte_status``, ``l10n_cl_reference_ids``, ...). The payload itself is built by the pure-Python
``lib.payload.build_dte_payload`` from the plain dict ``_dte_snapshot()`` returns, so that the mapping
is tested without Odoo.
"""
import base64
import logging

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare

_logger = logging.getLogger(__name__)

DTE_STATUSES = [
    ('not_sent', 'No enviado'),
    ('draft', 'Borrador'),
    ('signed', 'Firmado'),
    ('sent', 'Enviado al SII'),
    ('accepted', 'Aceptado'),
    ('accepted_with_reparos', 'Aceptado con reparos'),
    ('rejected', 'Rechazado'),
    ('error', 'Error'),
]

#: Progress of a document: a status update never lowers it (a late "sent" after "accepted" is
#: ignored). Same rank: any change is allowed unless the status is final.
STATUS_RANK = {
    'not_sent': 0, 'draft': 1, 'signed': 2, 'error': 3, 'sent': 3,
    'accepted': 4, 'accepted_with_reparos': 4, 'rejected': 4,
}
FINAL_STATUSES = ('accepted', 'accepted_with_reparos', 'rejected')
#: Statuses from which the document may be (re)sent: never once the SII has it.
SENDABLE_STATUSES = ('not_sent', 'draft', 'signed', 'error')
#: Statuses still waiting for the SII's verdict (what the status check and the cron poll).
PENDING_STATUSES = ('draft', 'signed', 'sent')
#: SII code of IVA on ``account.tax.l10n_cl_sii_code``.
SII_IVA_CODE = 14
NOTE_TYPES = ('56', '61', '111', '112')


class AccountMove(models.Model):
    _inherit = 'account.move'

    dte_type = fields.Char(
        string='Tipo DTE', compute='_compute_dte_type', store=True, index=True,
        help='Código SII del tipo de documento (33, 34, 39, 61, ...), tomado del tipo de documento LATAM.')
    dte_folio = fields.Integer(string='Folio DTE', copy=False, readonly=True, index=True)
    dte_xml = fields.Text(string='XML DTE firmado', copy=False, readonly=True)
    dte_status = fields.Selection(
        DTE_STATUSES, string='Estado DTE', default='not_sent', copy=False, readonly=True, index=True)
    dte_sii_track_id = fields.Char(string='Track ID SII', copy=False, readonly=True)
    dte_error_message = fields.Text(string='Error DTE', copy=False, readonly=True)
    dte_service_id = fields.Integer(string='ID en el servicio DTE', copy=False, readonly=True)
    dte_idempotency_key = fields.Char(string='Clave de idempotencia DTE', copy=False, readonly=True)
    dte_send_generation = fields.Integer(
        copy=False, readonly=True,
        help='Se incrementa cuando el servicio rechaza definitivamente el documento, para que el '
             'siguiente envío use una clave de idempotencia nueva.')
    dte_pdf_attachment_id = fields.Many2one('ir.attachment', string='PDF DTE', copy=False, readonly=True)
    dte_last_status_check = fields.Datetime(string='Última consulta de estado', copy=False, readonly=True)
    dte_reference_ids = fields.One2many(
        'dte.move.reference', 'move_id', string='Referencias DTE', copy=False,
        help='Documentos referenciados (obligatorio en notas de crédito y débito: código 1 anula, '
             '2 corrige texto, 3 corrige montos).')

    @api.depends('l10n_latam_document_type_id')
    def _compute_dte_type(self):
        for move in self:
            move.dte_type = move.l10n_latam_document_type_id.code or False

    # ------------------------------------------------------------------------------------------
    # snapshot (plain data for lib.payload)
    # ------------------------------------------------------------------------------------------

    @staticmethod
    def _dte_date(value):
        return value.isoformat() if value else None

    def _dte_line_is_exempt(self, line):
        """A line is exempt when none of its taxes is IVA (SII code 14)."""
        return not any(tax.l10n_cl_sii_code == SII_IVA_CODE for tax in line.tax_ids.flatten_taxes_hierarchy())

    def _dte_snapshot_lines(self):
        lines = []
        product_lines = self.invoice_line_ids.filtered(lambda l: l.display_type == 'product')
        for seq, line in enumerate(product_lines.sorted(lambda l: (l.sequence, l.id)), start=1):
            product = line.product_id
            label = (line.name or '').strip()
            name = product.name if product else (label.split('\n')[0] if label else '')
            description = label if label and label != name else ''
            lines.append({
                'sequence': seq,
                'product_code': product.default_code or '' if product else '',
                'name': name or label,
                'description': description,
                'quantity': line.quantity,
                'uom': (line.product_uom_id.l10n_cl_sii_code or line.product_uom_id.name or '') if line.product_uom_id else '',
                'price_unit': self._dte_net_price_unit(line),
                'discount': line.discount or 0.0,
                'exempt': self._dte_line_is_exempt(line),
                'price_subtotal': line.price_subtotal,
            })
        return lines

    @staticmethod
    def _dte_net_price_unit(line):
        """The tax-excluded unit price the SII's detail wants. With a price-included tax (IVA
        incluido, usual on boletas) Odoo's ``price_unit`` carries the tax: derive the net unit price
        from the line's own tax-excluded subtotal instead (the payload then recomputes it within a
        peso)."""
        if not any(tax.price_include for tax in line.tax_ids):
            return line.price_unit
        factor = line.quantity * (1 - (line.discount or 0.0) / 100.0)
        return line.price_subtotal / factor if factor else line.price_unit

    def _dte_snapshot_references(self):
        """Explicit ``dte_reference_ids`` first; a credit note without them references the move it
        reverses (code 1 "anula" when it reverses the whole amount, else 3 "corrige montos")."""
        refs = [{
            'doc_type': ref.doc_type,
            'folio': ref.folio,
            'date': self._dte_date(ref.date),
            'code': int(ref.code) if ref.code else None,
            'reason': ref.reason or '',
        } for ref in self.dte_reference_ids]
        if refs:
            return refs
        origin = self.reversed_entry_id
        if not origin and 'debit_origin_id' in self._fields:  # account_debit_note, when installed
            origin = self.debit_origin_id
        if origin:
            full = float_compare(origin.amount_total, self.amount_total,
                                 precision_rounding=self.currency_id.rounding) == 0
            code = 1 if (self.move_type == 'out_refund' and full) else 3
            refs.append({
                'doc_type': origin.dte_type or origin.l10n_latam_document_type_id.code or '',
                'folio': str(origin.dte_folio or origin.l10n_latam_document_number or '').lstrip('0') or '',
                'date': self._dte_date(origin.invoice_date),
                'code': code,
                'reason': (self.ref or '').split(',')[-1].strip()[:90]
                or (self.env._('Anula documento') if code == 1 else self.env._('Corrige montos')),
            })
        return refs

    def _dte_snapshot(self):
        """The plain dict ``lib.payload.build_dte_payload`` maps to the service's document JSON.

        Keys are the contract's (see ``lib/payload.py``); amounts are Odoo's own, in the move's
        currency, so that the library can cross-check its SII-style totals against them.
        """
        self.ensure_one()
        company = self.company_id
        cpartner = company.partner_id
        partner = self.commercial_partner_id
        lines = self._dte_snapshot_lines()
        exempt = sum(l['price_subtotal'] for l in lines if l['exempt'])
        payment_term = None
        if self.invoice_date_due and self.invoice_date:
            payment_term = 'contado' if self.invoice_date_due <= self.invoice_date else 'credito'
        return {
            'dte_type': self.dte_type or '',
            'folio': self.dte_folio or 0,
            'date': self._dte_date(self.invoice_date or fields.Date.context_today(self)),
            'currency': self.currency_id.name,
            'company': {
                'vat': company.vat or cpartner.vat or '',
                'name': company.name or '',
                'activity_description': company.l10n_cl_activity_description or '',
                'street': ' '.join(filter(None, [cpartner.street, cpartner.street2])),
                'city': cpartner.state_id.name or cpartner.city or '',
                'commune': cpartner.city or '',
                'acteco': company._dte_acteco_codes(),
                'phone': cpartner.phone or '',
                'email': cpartner.email or '',
            },
            'partner': {
                'vat': partner.vat or '',
                'name': partner.name or '',
                'activity_description': partner.l10n_cl_activity_description or '',
                'street': ' '.join(filter(None, [partner.street, partner.street2])),
                'city': partner.state_id.name or partner.city or '',
                'commune': partner.city or '',
                'email': partner.email or '',
                'taxpayer_type': partner.l10n_cl_sii_taxpayer_type or '',
            },
            'lines': lines,
            'amounts': {
                'untaxed': self.amount_untaxed,
                'exempt': exempt,
                'tax': self.amount_tax,
                'total': self.amount_total,
            },
            'references': self._dte_snapshot_references(),
            'global_discount_pct': None,
            'payment_term': payment_term,
            'due_date': self._dte_date(self.invoice_date_due),
        }

    def _dte_payload(self):
        """The service's document JSON, or a UserError naming the faulty field."""
        from ..lib.payload import PayloadError, build_dte_payload
        self.ensure_one()
        try:
            return build_dte_payload(self._dte_snapshot())
        except PayloadError as err:
            raise UserError(self.env._(
                'No se puede preparar el DTE de %(move)s: %(message)s (campo %(field)s)',
                move=self.display_name, message=getattr(err, 'message', str(err)),
                field=getattr(err, 'field', '?'))) from err

    # ------------------------------------------------------------------------------------------
    # actions
    # ------------------------------------------------------------------------------------------

    def _dte_check_access(self):
        if not self.env.user.has_group('l10n_cl_dte.group_dte_user'):
            raise UserError(self.env._('Solo los usuarios DTE pueden emitir o consultar documentos electrónicos.'))

    def _dte_check_sendable(self):
        for move in self:
            if move.state != 'posted':
                raise UserError(self.env._('%s debe estar publicado antes de enviarlo al SII.', move.display_name))
            if not move.is_sale_document(include_receipts=True):
                raise UserError(self.env._('%s no es un documento de venta.', move.display_name))
            if not move.dte_type:
                raise UserError(self.env._('%s no tiene tipo de documento SII.', move.display_name))
            if move.dte_status not in SENDABLE_STATUSES:
                raise UserError(self.env._(
                    '%(move)s ya fue enviado al SII (estado %(status)s).', move=move.display_name,
                    status=dict(DTE_STATUSES)[move.dte_status]))

    def _dte_get_idempotency_key(self):
        """A key derived from the database, the move and the send generation: the same on every retry,
        even if the transaction that first used it was rolled back (so a folio is never spent twice)."""
        self.ensure_one()
        uuid = self.env['ir.config_parameter'].sudo().get_param('database.uuid', '')[:12]
        key = 'odoo-%s-move-%d-g%d' % (uuid, self.id, self.dte_send_generation)
        if self.dte_idempotency_key != key:
            self.sudo().dte_idempotency_key = key
        return key

    def action_generate_and_send_dte(self):
        """Validate, build the payload, have the DTE service stamp, sign and send it, store the result.

        A failure of one document is stored on it (``dte_status = 'error'``, the message) and does
        not stop the others; a definitive refusal (4xx) moves to a new idempotency key so that the
        corrected invoice can be sent again, while a connection failure keeps the key (the retry is
        answered with the stored result if the service did issue the document).
        """
        from ..lib.client import TimbreServiceError
        self._dte_check_access()
        self._dte_check_sendable()
        payloads = {move.id: move._dte_payload() for move in self}
        client = self.env['l10n_cl_dte.service']._client()
        failures = []
        for move in self:
            key = move._dte_get_idempotency_key()
            try:
                answer = client.generate(payloads[move.id], key)
            except TimbreServiceError as err:
                _logger.warning('DTE generate of move %s failed: %s %s', move.id, err.status, err.code)
                move._dte_store_failure(err)
                failures.append(move)
                continue
            move._dte_store_generate(answer)
        if failures and len(self) == 1:
            return self._dte_notification(
                self.env._('El servicio DTE no emitió el documento: %s', self.dte_error_message), 'danger')
        if failures:
            return self._dte_notification(self.env._(
                '%(ok)s documentos enviados, %(ko)s con error.', ok=len(self) - len(failures), ko=len(failures)),
                'warning')
        return self._dte_notification(self.env._('%s documento(s) enviados al SII.', len(self)), 'success')

    def _dte_notification(self, message, kind):
        return {
            'type': 'ir.actions.client',
            'tag': 'display_notification',
            'params': {'message': message, 'type': kind, 'sticky': kind == 'danger',
                       'next': {'type': 'ir.actions.act_window_close'}},
        }

    def _dte_store_failure(self, err):
        """Keep the service's refusal on the move (field errors first: they say what to fix)."""
        self.ensure_one()
        details = [err.detail or err.code or '']
        for f in err.fields or []:
            details.append('%s: %s' % (f.get('field', ''), f.get('message', '')))
        vals = {
            'dte_status': 'error' if self.dte_status not in FINAL_STATUSES else self.dte_status,
            'dte_error_message': '%s\n%s' % (err.code, '\n'.join(d for d in details if d)),
        }
        definitive = 400 <= (err.status or 0) < 500 and err.status not in (408, 409, 429) \
            and err.code != 'ERR_IDEMPOTENCY_IN_PROGRESS'
        if definitive:
            vals['dte_send_generation'] = self.dte_send_generation + 1
        self.sudo().write(vals)
        self.message_post(body=self.env._('Error al emitir el DTE: %s', vals['dte_error_message']),
                          subtype_xmlid='mail.mt_note')

    def _dte_store_generate(self, answer):
        """Store the answer of ``POST /api/v1/dte/generate`` and fetch the PDF."""
        self.ensure_one()
        old = self.dte_status
        errors = answer.get('errors') or []
        vals = {
            'dte_service_id': answer.get('id') or self.dte_service_id,
            'dte_folio': answer.get('folio') or self.dte_folio,
            'dte_xml': answer.get('xml_signed') or self.dte_xml,
            'dte_sii_track_id': answer.get('sii_track_id') or self.dte_sii_track_id,
            'dte_error_message': '\n'.join('%s: %s' % (e.get('code', ''), e.get('message', '')) for e in errors) or False,
            'dte_last_status_check': fields.Datetime.now(),
        }
        new = answer.get('status')
        if new in STATUS_RANK and self._dte_status_moves_forward(old, new):
            vals['dte_status'] = new
        self.sudo().write(vals)
        if answer.get('pdf_content'):
            self._dte_attach_pdf(base64.b64decode(answer['pdf_content']))
        else:
            self._dte_fetch_pdf()
        self.message_post(body=self.env._(
            'DTE emitido: tipo %(type)s, folio %(folio)s, estado %(status)s, track ID %(track)s.',
            type=self.dte_type, folio=self.dte_folio, status=dict(DTE_STATUSES).get(self.dte_status),
            track=self.dte_sii_track_id or '-'), subtype_xmlid='mail.mt_note')

    def _dte_fetch_pdf(self):
        """Fetch ``GET /api/v1/dte/{id}/pdf`` once the document is signed; a failure is only logged
        (the status check tries again)."""
        from ..lib.client import TimbreServiceError
        self.ensure_one()
        if self.dte_pdf_attachment_id or not self.dte_service_id or self.dte_status in ('not_sent', 'draft', 'error'):
            return False
        try:
            content = self.env['l10n_cl_dte.service']._client().pdf(self.dte_service_id)
        except TimbreServiceError as err:
            _logger.info('PDF of DTE %s not available yet: %s', self.dte_service_id, err.code)
            return False
        return self._dte_attach_pdf(content)

    def _dte_attach_pdf(self, content):
        self.ensure_one()
        if not content:
            return False
        attachment = self.env['ir.attachment'].sudo().create({
            'name': 'T%sF%s.pdf' % (self.dte_type, self.dte_folio),
            'raw': content,
            'mimetype': 'application/pdf',
            'res_model': self._name,
            'res_id': self.id,
        })
        self.sudo().dte_pdf_attachment_id = attachment
        return attachment

    def action_check_dte_status(self):
        """Ask the SII (through the service) for the status of the documents and apply it."""
        self._dte_check_access()
        moves = self.filtered(lambda m: m.dte_folio and m.dte_type)
        if not moves:
            raise UserError(self.env._('Los documentos seleccionados no han sido emitidos como DTE.'))
        moves._dte_poll_status(raise_errors=len(moves) == 1)
        if len(moves) == 1:
            return moves._dte_notification(self.env._(
                'Estado DTE: %s', dict(DTE_STATUSES).get(moves.dte_status)), 'info')
        return True

    def _dte_poll_status(self, raise_errors=False):
        from ..lib.client import TimbreServiceError
        client = self.env['l10n_cl_dte.service']._client()
        for move in self:
            move.sudo().dte_last_status_check = fields.Datetime.now()
            try:
                answer = client.status(move.company_id.vat, move.dte_type, move.dte_folio,
                                       track_id=move.dte_sii_track_id or None)
            except TimbreServiceError as err:
                _logger.warning('DTE status of move %s failed: %s %s', move.id, err.status, err.code)
                if raise_errors:
                    raise UserError(self.env._('No se pudo consultar el estado: %s', err.detail or err.code)) from err
                continue
            move._dte_apply_status(answer, 'poll')
            move._dte_fetch_pdf()

    @api.model
    def _dte_status_moves_forward(self, old, new):
        """True when ``old`` → ``new`` is progress (never back, never out of a final status)."""
        if new == old or new not in STATUS_RANK:
            return False
        if old in FINAL_STATUSES:
            return False
        return STATUS_RANK[new] >= STATUS_RANK.get(old, 0)

    def _dte_apply_status(self, payload, source):
        """Apply a status from the service: a webhook ``dte.status_changed`` body (``new_status``)
        or a ``GET /api/v1/dte/status`` answer (``status``). Posts a note "old → new" with the SII's
        text. Returns True when the status changed (a repeated or late update changes nothing)."""
        self.ensure_one()
        new = payload.get('new_status') or payload.get('status')
        old = self.dte_status
        vals = {}
        track = payload.get('track_id') or payload.get('sii_track_id')
        if track and not self.dte_sii_track_id:
            vals['dte_sii_track_id'] = track
        if payload.get('id') and not self.dte_service_id:
            vals['dte_service_id'] = payload['id']
        changed = self._dte_status_moves_forward(old, new)
        if changed:
            vals['dte_status'] = new
            if new in ('rejected', 'error'):
                vals['dte_error_message'] = payload.get('error_message') or payload.get('status_display') or False
            elif new in ('accepted', 'accepted_with_reparos', 'sent'):
                vals['dte_error_message'] = payload.get('error_message') if new == 'accepted_with_reparos' else False
        if vals:
            self.sudo().write(vals)
        if changed:
            labels = dict(DTE_STATUSES)
            sources = {'webhook': self.env._('webhook'), 'poll': self.env._('consulta'),
                       'batch': self.env._('lote')}
            body = Markup('%s <b>%s</b> → <b>%s</b> (%s)') % (
                self.env._('Estado DTE:'), labels.get(old, old), labels.get(new, new), sources.get(source, source))
            display = payload.get('status_display') or payload.get('sii_status')
            if display:
                body += Markup('<br/>%s %s') % (self.env._('SII:'), display)
            self.message_post(body=body, subtype_xmlid='mail.mt_note')
        return changed

    def action_ai_prevalidate(self):
        """Open the AI pre-validation wizard (``dte.ai.validation.wizard``) for this invoice."""
        self.ensure_one()
        self._dte_check_access()
        return {
            'type': 'ir.actions.act_window',
            'name': self.env._('Pre-validación con IA'),
            'res_model': 'dte.ai.validation.wizard',
            'view_mode': 'form',
            'target': 'new',
            'context': {'default_move_id': self.id, 'active_model': 'account.move',
                        'active_id': self.id, 'active_ids': self.ids},
        }

    # ------------------------------------------------------------------------------------------
    # cron fallback
    # ------------------------------------------------------------------------------------------

    @api.model
    def _cron_dte_poll_status(self, limit=100):
        """Poll documents still waiting for the SII whose last check is older than
        ``l10n_cl_dte.poll_after_minutes`` (webhooks silent); one failure does not stop the rest."""
        icp = self.env['ir.config_parameter'].sudo()
        try:
            minutes = int(icp.get_param('l10n_cl_dte.poll_after_minutes', 30))
        except ValueError:
            minutes = 30
        if not icp.get_param('l10n_cl_dte.dte_service_url'):
            return 0
        threshold = fields.Datetime.subtract(fields.Datetime.now(), minutes=minutes)
        moves = self.sudo().search([
            ('dte_status', 'in', PENDING_STATUSES),
            ('dte_folio', '!=', 0),
            '|', ('dte_last_status_check', '=', False), ('dte_last_status_check', '<', threshold),
        ], order='dte_last_status_check asc nulls first, id', limit=limit)
        in_cron = bool(self.env.context.get('ir_cron_progress_id'))
        done = 0
        for move in moves:
            try:
                with self.env.cr.savepoint():
                    move._dte_poll_status()
            except Exception:  # noqa: BLE001 -- a cron must go on with the other documents
                _logger.exception('DTE status poll of move %s failed', move.id)
                move.dte_last_status_check = fields.Datetime.now()
            done += 1
            if in_cron:
                self.env['ir.cron']._commit_progress(1)
        return done


class DteMoveReference(models.Model):
    """A document referenced by a DTE (``Referencia``): the invoice a note modifies, a purchase order
    (801), ... Named ``dte.move.reference`` to stay clear of Enterprise's ``l10n_cl.account.invoice.reference``."""

    _name = 'dte.move.reference'
    _description = 'Referencia de DTE'
    _order = 'move_id, sequence, id'

    move_id = fields.Many2one('account.move', required=True, ondelete='cascade', index=True)
    company_id = fields.Many2one(related='move_id.company_id', store=True)
    sequence = fields.Integer(default=10)
    doc_type = fields.Char(string='Tipo de documento', required=True,
                           help='Código SII: 33, 34, 61, ... o de referencia (801 orden de compra, ...).')
    folio = fields.Char(string='Folio', required=True)
    date = fields.Date(string='Fecha')
    code = fields.Selection([('1', 'Anula documento'), ('2', 'Corrige texto'), ('3', 'Corrige montos')],
                            string='Código de referencia')
    reason = fields.Char(string='Razón')
