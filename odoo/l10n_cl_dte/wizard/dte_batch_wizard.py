"""Batch sending wizard (``dte.batch.wizard``).

Sends the selected invoices in ONE call to the DTE service's batch endpoint
(``POST /api/v1/dte/batch``, up to 5,000 documents, answered at once with a batch id); the service
assigns folios and sends them to the SII in envelopes. The wizard records a ``dte.batch`` (MODELS
helper's model), whose form shows the progress (done / total) read back with ``action_refresh``.

Only posted customer documents of a Chilean company, with a supported DTE type and not yet sent
(``dte_status`` ``not_sent`` or ``error``), are sent; the others are listed and left out, so a
document is never stamped twice.
"""
import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..lib.client import TimbreServiceError
from ..lib.payload import PayloadError, build_dte_payload

_logger = logging.getLogger(__name__)

#: DTE types this addon sends (52, the guía de despacho, is a stock picking, out of scope).
SUPPORTED_DTE_TYPES = ('33', '34', '39', '41', '56', '61', '110', '111', '112')
#: ``dte_status`` values that mean "not yet at the SII".
SENDABLE_STATUSES = ('not_sent', 'error')
#: The DTE service's limit per batch.
MAX_BATCH = 5000


class DteBatchWizard(models.TransientModel):
    """Send several invoices to the SII through the DTE service's batch endpoint."""

    _name = 'dte.batch.wizard'
    _description = 'Envío masivo de DTE'

    move_ids = fields.Many2many('account.move', string='Documentos seleccionados', readonly=True)
    eligible_move_ids = fields.Many2many(
        'account.move', string='Documentos a enviar', compute='_compute_eligibility')
    refused_move_ids = fields.Many2many(
        'account.move', string='Documentos excluidos', compute='_compute_eligibility')
    refused_reasons = fields.Text(string='Motivos de exclusión', compute='_compute_eligibility')
    eligible_count = fields.Integer(string='Por enviar', compute='_compute_eligibility')
    refused_count = fields.Integer(string='Excluidos', compute='_compute_eligibility')

    @api.model
    def default_get(self, fields_list):
        """Take the selected invoices (``active_ids`` of ``account.move``)."""
        values = super().default_get(fields_list)
        ctx = self.env.context
        if 'move_ids' in fields_list and not values.get('move_ids') and ctx.get('active_model') == 'account.move':
            values['move_ids'] = [fields.Command.set(ctx.get('active_ids') or [])]
        return values

    @api.model
    def _refusal_reason(self, move):
        """Why ``move`` cannot be sent in a batch, or ``False`` when it can."""
        if move.state != 'posted':
            return self.env._('no está publicado')
        if not move.is_sale_document(include_receipts=True):
            return self.env._('no es un documento de venta')
        if move.company_id.account_fiscal_country_id.code != 'CL':
            return self.env._('la empresa no es chilena')
        if move.dte_type not in SUPPORTED_DTE_TYPES:
            return self.env._('tipo de documento %s no soportado', move.dte_type or '-')
        if move.dte_status not in SENDABLE_STATUSES:
            labels = dict(move._fields['dte_status']._description_selection(self.env))
            return self.env._('ya fue enviado (estado %s)', labels.get(move.dte_status, move.dte_status))
        return False

    @api.depends('move_ids')
    def _compute_eligibility(self):
        for wizard in self:
            eligible = self.env['account.move']
            reasons = []
            for move in wizard.move_ids:
                reason = wizard._refusal_reason(move)
                if reason:
                    reasons.append('%s: %s' % (move.display_name, reason))
                else:
                    eligible |= move
            wizard.eligible_move_ids = eligible
            wizard.refused_move_ids = wizard.move_ids - eligible
            wizard.eligible_count = len(eligible)
            wizard.refused_count = len(wizard.move_ids) - len(eligible)
            wizard.refused_reasons = '\n'.join(reasons) or False

    def action_send(self):
        """Build every payload, send them in one batch call, record the batch and open it."""
        self.ensure_one()
        moves = self.eligible_move_ids
        if not moves:
            raise UserError(self.env._(
                'Ninguno de los documentos seleccionados puede enviarse: deben ser facturas de venta '
                'chilenas publicadas y aún no enviadas al SII.\n%s', self.refused_reasons or ''))
        if len(moves) > MAX_BATCH:
            raise UserError(self.env._('Un lote admite como máximo %s documentos.', MAX_BATCH))
        if len(moves.company_id) > 1:
            raise UserError(self.env._('Un lote debe contener documentos de una sola empresa (un solo emisor).'))
        documents, errors = [], []
        for move in moves:
            try:
                documents.append(build_dte_payload(move._dte_snapshot()))
            except PayloadError as err:
                errors.append('%s: %s (%s)' % (move.display_name, getattr(err, 'message', err), getattr(err, 'field', '')))
        if errors:
            raise UserError(self.env._('Hay documentos con datos incompletos; corríjalos antes de enviar:\n%s', '\n'.join(errors)))
        client = self.env['l10n_cl_dte.service']._client()
        try:
            answer = client.batch(documents)
        except (TimbreServiceError, OSError) as err:
            _logger.warning('DTE batch of %s documents failed: %s', len(documents), err)
            raise UserError(self.env._('El servicio DTE de Timbre rechazó el lote: %s', err)) from err
        batch = self._create_batch(moves, answer)
        return {
            'type': 'ir.actions.act_window',
            'name': self.env._('Lote DTE'),
            'res_model': 'dte.batch',
            'res_id': batch.id,
            'view_mode': 'form',
            'target': 'current',
        }

    def _create_batch(self, moves, answer):
        """The ``dte.batch`` record of the service's answer ``{batch_id, total, accepted, refused}``.

        Result lines follow the submission order (the service's ``index``); documents the service
        refused at once get their line marked and are listed in the batch's chatter.
        """
        batch = self.env['dte.batch'].with_context(dte_batch_move_order=moves.ids).create({
            'batch_id': answer.get('batch_id'),
            'total': answer.get('total') or len(moves),
            'done': 0,
            'state': 'open',
            'move_ids': [fields.Command.set(moves.ids)],
            'company_id': moves.company_id.id,
        })
        # Queued at the service: no longer "not sent", so they cannot be batched (stamped) twice;
        # the batch's refresh (and the webhooks) bring their folio and SII status.
        moves.sudo().write({'dte_status': 'draft', 'dte_error_message': False})
        refused = answer.get('refused') or []
        if refused:
            lines_by_index = {line.index: line for line in batch.line_ids}
            summary = []
            for item in refused:
                message = ' '.join(filter(None, [item.get('code'), item.get('message')]))
                line = lines_by_index.get(item.get('index'))
                if line:
                    line.write({'status': 'refused', 'error_message': message})
                    if line.move_id:
                        line.move_id.sudo().write({'dte_status': 'error', 'dte_error_message': message})
                summary.append('%s: %s' % (line.move_id.display_name if line and line.move_id else item.get('index'), message))
            batch.message_post(body=self.env._('Documentos rechazados por el servicio:\n%s', '\n'.join(summary)))
        return batch
