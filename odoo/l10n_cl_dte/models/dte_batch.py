"""``dte.batch``: a batch sent through ``POST /api/v1/dte/batch``, and its progress.

The service answers at once (202, ``batch_id``) and works in the background; ``action_refresh`` reads
``GET /api/v1/dte/batch/{id}`` and applies each document's folio and status to its invoice. Documents
are matched by their ``index`` in the batch, which is the order of ``line_ids`` (= ``move_ids`` order
at submission).
"""
import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)


class DteBatch(models.Model):
    _name = 'dte.batch'
    _description = 'Lote de DTE'
    _inherit = ['mail.thread']
    _order = 'create_date desc, id desc'
    _rec_name = 'name'

    name = fields.Char(string='Nombre', compute='_compute_name', store=True)
    batch_id = fields.Char(string='ID del lote', readonly=True, index=True, copy=False)
    company_id = fields.Many2one('res.company', string='Empresa', required=True,
                                 default=lambda self: self.env.company, readonly=True)
    total = fields.Integer(string='Total', readonly=True)
    done = fields.Integer(string='Procesados', readonly=True)
    progress = fields.Float(string='Progreso', compute='_compute_progress')
    state = fields.Selection([('draft', 'Borrador'), ('open', 'En proceso'), ('done', 'Terminado'),
                              ('error', 'Error')], string='Estado', default='open', readonly=True, tracking=True)
    move_ids = fields.Many2many('account.move', 'dte_batch_account_move_rel', 'batch_id', 'move_id',
                                string='Documentos', readonly=True)
    line_ids = fields.One2many('dte.batch.line', 'batch_id', string='Resultados', readonly=True)
    counts = fields.Char(string='Resumen', readonly=True)
    last_refresh = fields.Datetime(string='Última actualización', readonly=True)

    @api.depends('batch_id', 'create_date')
    def _compute_name(self):
        for batch in self:
            batch.name = self.env._('Lote %s', (batch.batch_id or '')[:8] or batch.id or '')

    @api.depends('total', 'done')
    def _compute_progress(self):
        for batch in self:
            batch.progress = 100.0 * batch.done / batch.total if batch.total else 0.0

    @api.model_create_multi
    def create(self, vals_list):
        """One result line per document, in batch order (the service's ``index``)."""
        batches = super().create(vals_list)
        for batch in batches:
            if not batch.line_ids and batch.move_ids:
                ordered = batch._ordered_moves()
                batch.line_ids = [fields.Command.create({'index': i, 'move_id': m.id}) for i, m in enumerate(ordered)]
        return batches

    def _ordered_moves(self):
        """The moves in submission order (``move_ids`` keeps no order: the wizard sends them by id
        order of the recordset it was given, which is the M2M's default order)."""
        order = self.env.context.get('dte_batch_move_order')
        if order:
            by_id = {m.id: m for m in self.move_ids}
            return [by_id[i] for i in order if i in by_id]
        return list(self.move_ids)

    def action_refresh(self):
        """Read the batch's progress from the service and apply it to the invoices."""
        from ..lib.client import TimbreServiceError
        client = self.env['l10n_cl_dte.service']._client()
        for batch in self:
            if not batch.batch_id:
                continue
            try:
                answer = client.batch_status(batch.batch_id)
            except TimbreServiceError as err:
                raise UserError(self.env._('No se pudo consultar el lote: %s', err.detail or err.code)) from err
            batch._apply_progress(answer)
        return True

    def _apply_progress(self, answer):
        self.ensure_one()
        lines = {line.index: line for line in self.line_ids}
        for doc in answer.get('documents') or []:
            line = lines.get(doc.get('index'))
            if not line:
                continue
            line.write({
                'service_id': doc.get('id') or False,
                'dte_type': doc.get('dte_type') or False,
                'folio': doc.get('folio') or 0,
                'status': doc.get('status') or False,
                'sii_track_id': doc.get('sii_track_id') or False,
                'error_message': ' '.join(filter(None, [doc.get('error_code'), doc.get('error_message')])) or False,
            })
            move = line.move_id
            if move and doc.get('folio'):
                vals = {}
                if not move.dte_folio:
                    vals['dte_folio'] = doc['folio']
                if doc.get('id') and not move.dte_service_id:
                    vals['dte_service_id'] = doc['id']
                if vals:
                    move.sudo().write(vals)
            if move and doc.get('status'):
                move._dte_apply_status({'status': doc['status'], 'sii_track_id': doc.get('sii_track_id'),
                                        'error_message': doc.get('error_message'),
                                        'status_display': doc.get('sii_status')}, 'batch')
        counts = answer.get('counts') or {}
        self.write({
            'total': answer.get('total') or self.total,
            'done': answer.get('done') or 0,
            'state': 'done' if answer.get('status') == 'done' else 'open',
            'counts': ', '.join('%s: %s' % kv for kv in sorted(counts.items())) or False,
            'last_refresh': fields.Datetime.now(),
        })


class DteBatchLine(models.Model):
    _name = 'dte.batch.line'
    _description = 'Resultado de un documento en un lote DTE'
    _order = 'batch_id, index'

    batch_id = fields.Many2one('dte.batch', required=True, ondelete='cascade', index=True)
    index = fields.Integer(string='Posición', readonly=True)
    move_id = fields.Many2one('account.move', string='Documento', readonly=True, ondelete='set null')
    service_id = fields.Integer(string='ID en el servicio', readonly=True)
    dte_type = fields.Char(string='Tipo DTE', readonly=True)
    folio = fields.Integer(string='Folio', readonly=True)
    status = fields.Char(string='Estado', readonly=True)
    sii_track_id = fields.Char(string='Track ID SII', readonly=True)
    error_message = fields.Text(string='Error', readonly=True)
