"""AI pre-validation wizard (``dte.ai.validation.wizard``).

Before a DTE is stamped and sent, the Timbre AI service (``POST /api/v1/ai/prevalidate``) checks the
document the SII's way (deterministic engine) and, when configured, reviews its plausibility with
Claude. This wizard builds the very payload the DTE service would receive
(``lib.payload.build_dte_payload(move._dte_snapshot())``), sends it with the company's context
(industry = giro, recent SII rejections) and lists the findings. Only a valid verdict lets the user
go on to "Generar y enviar": a document the engine rejects would be rejected by the SII too.
"""
import logging
import re

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..lib.client import TimbreServiceError
from ..lib.payload import PayloadError, build_dte_payload

_logger = logging.getLogger(__name__)

#: How many recently rejected documents feed ``historical_errors`` (the service accepts 100).
HISTORY_REJECTIONS = 20
#: A leading error code in ``dte_error_message``: SII (``REF-3-758``), PV_* or ERR_* codes.
_CODE_RE = re.compile(r'^\s*\[?([A-Z][A-Z0-9]*(?:[-_][A-Z0-9]+)+)\]?')


class DteAiValidationWizard(models.TransientModel):
    """The AI service's verdict on one invoice, shown before it is sent to the SII."""

    _name = 'dte.ai.validation.wizard'
    _description = 'Pre-validación de DTE con IA'

    move_id = fields.Many2one('account.move', string='Documento', required=True, readonly=True, ondelete='cascade')
    is_valid = fields.Boolean(string='Válido', readonly=True)
    confidence = fields.Float(string='Confianza', readonly=True, digits=(3, 2))
    engine = fields.Char(string='Motor', readonly=True)
    issue_ids = fields.One2many('dte.ai.validation.issue', 'wizard_id', string='Observaciones', readonly=True)
    recommendations = fields.Text(string='Recomendaciones', readonly=True)
    service_note = fields.Text(
        string='Aviso del servicio', readonly=True,
        help='Contexto que el servicio no pudo usar (revisión con IA o consulta al servicio DTE fallida).')
    error_count = fields.Integer(string='Errores', compute='_compute_counts')
    warning_count = fields.Integer(string='Advertencias', compute='_compute_counts')

    @api.depends('issue_ids.severity')
    def _compute_counts(self):
        for wizard in self:
            wizard.error_count = len(wizard.issue_ids.filtered(lambda i: i.severity == 'error'))
            wizard.warning_count = len(wizard.issue_ids.filtered(lambda i: i.severity == 'warning'))

    # ------------------------------------------------------------------ defaults
    @api.model
    def default_get(self, fields_list):
        """Run the pre-validation when the wizard opens on a move (``default_move_id`` or the active record)."""
        values = super().default_get(fields_list)
        move_id = values.get('move_id') or self._context_move_id()
        if move_id and 'move_id' in fields_list:
            move = self.env['account.move'].browse(move_id)
            values['move_id'] = move.id
            values.update(self._prevalidation_values(move))
        return values

    @api.model
    def _context_move_id(self):
        """The move the wizard was opened from, when the context names one."""
        ctx = self.env.context
        if ctx.get('active_model') == 'account.move' and ctx.get('active_id'):
            return ctx['active_id']
        return False

    # ------------------------------------------------------------------ service call
    @api.model
    def _company_context(self, move):
        """``company_context`` of the request: the giro as industry and the recent SII rejections.

        Rejections are only sent when there are some: an absent ``historical_errors`` lets the AI
        service read them from the DTE service itself.
        """
        company = move.company_id
        context = {}
        industry = (company.l10n_cl_activity_description or '').strip()
        if industry:
            context['industry'] = industry[:200]
        rejected = self.env['account.move'].search([
            ('company_id', '=', company.id),
            ('dte_status', '=', 'rejected'),
            ('dte_error_message', '!=', False),
        ], order='write_date desc', limit=HISTORY_REJECTIONS)
        errors = []
        for message in rejected.mapped('dte_error_message'):
            match = _CODE_RE.match(message)
            errors.append({'code': (match.group(1) if match else 'SII_RECHAZO')[:64], 'message': message.strip()[:500]})
        if errors:
            context['historical_errors'] = errors
        return context

    @api.model
    def _prevalidation_values(self, move):
        """Field values of the wizard for ``move``: the AI service's answer, or the local payload error.

        A ``PayloadError`` (Odoo's data cannot even make a DTE) is shown as an error issue of
        source ``odoo`` without calling the service; service failures are user errors.
        """
        move.ensure_one()
        try:
            payload = build_dte_payload(move._dte_snapshot())
        except PayloadError as err:
            return {
                'is_valid': False,
                'confidence': 1.0,
                'engine': 'odoo',
                'recommendations': self.env._('Corrija el dato indicado en la factura y vuelva a pre-validar.'),
                'issue_ids': [fields.Command.clear(), fields.Command.create({
                    'code': 'PAYLOAD_ERROR',
                    'field': getattr(err, 'field', '') or '',
                    'severity': 'error',
                    'message': getattr(err, 'message', '') or str(err),
                    'source': 'odoo',
                })],
            }
        client = self.env['l10n_cl_dte.service']._client()
        try:
            answer = client.prevalidate(payload, self._company_context(move))
        except (TimbreServiceError, OSError) as err:
            _logger.warning('DTE pre-validation of move %s failed: %s', move.id, err)
            raise UserError(self.env._('El servicio de IA de Timbre no pudo pre-validar el documento: %s', err)) from err
        return self._values_from_answer(answer)

    @api.model
    def _values_from_answer(self, answer):
        """Map the ``/api/v1/ai/prevalidate`` answer to wizard values (issues as One2many commands)."""
        severities = dict(self.env['dte.ai.validation.issue']._fields['severity'].selection)
        sources = dict(self.env['dte.ai.validation.issue']._fields['source'].selection)
        commands = [fields.Command.clear()]
        for issue in answer.get('issues') or []:
            commands.append(fields.Command.create({
                'code': issue.get('code') or '',
                'field': issue.get('field') or '',
                'severity': issue.get('severity') if issue.get('severity') in severities else 'info',
                'message': issue.get('message') or '',
                'sii_rejection': issue.get('sii_rejection') or False,
                'source': issue.get('source') if issue.get('source') in sources else 'deterministic',
            }))
        notes = []
        for key in ('llm_error', 'context_error'):
            if isinstance(answer.get(key), dict):
                notes.append('%s: %s' % (answer[key].get('code', ''), answer[key].get('message', '')))
        return {
            'is_valid': bool(answer.get('is_valid')),
            'confidence': float(answer.get('confidence') or 0.0),
            'engine': answer.get('engine') or 'deterministic',
            'recommendations': '\n'.join('• %s' % r for r in answer.get('recommendations') or []) or False,
            'service_note': '\n'.join(notes) or False,
            'issue_ids': commands,
        }

    # ------------------------------------------------------------------ buttons
    def _reopen(self):
        """Action showing this wizard again (after a re-validation)."""
        return {
            'type': 'ir.actions.act_window',
            'name': self.env._('Pre-validación con IA'),
            'res_model': self._name,
            'res_id': self.id,
            'view_mode': 'form',
            'target': 'new',
        }

    def action_revalidate(self):
        """Ask the AI service again (after the user fixed the invoice in another tab)."""
        self.ensure_one()
        self.write(self._prevalidation_values(self.move_id))
        return self._reopen()

    def action_generate_and_send(self):
        """Go on to stamp and send the DTE; refused unless the verdict is valid."""
        self.ensure_one()
        if not self.is_valid:
            raise UserError(self.env._(
                'La pre-validación encontró errores: corríjalos antes de enviar el DTE al SII.'))
        result = self.move_id.action_generate_and_send_dte()
        return result if isinstance(result, dict) else {'type': 'ir.actions.act_window_close'}


class DteAiValidationIssue(models.TransientModel):
    """One finding of the pre-validation (the engine's, Claude's, or Odoo's own payload check)."""

    _name = 'dte.ai.validation.issue'
    _description = 'Observación de la pre-validación de DTE'
    _order = 'sequence, id'
    # Not readonly at field level: the lines are created by the web client from the wizard's
    # defaults (readonly values would be left out of the create commands); the wizard's
    # ``issue_ids`` is readonly, so users cannot edit them.

    wizard_id = fields.Many2one('dte.ai.validation.wizard', string='Asistente', required=True, ondelete='cascade')
    sequence = fields.Integer(string='Secuencia', compute='_compute_sequence', store=True)
    code = fields.Char(string='Código')
    field = fields.Char(string='Campo')
    severity = fields.Selection(
        [('error', 'Error'), ('warning', 'Advertencia'), ('info', 'Información')],
        string='Severidad', required=True, default='info')
    message = fields.Text(string='Mensaje')
    sii_rejection = fields.Char(string='Rechazo SII que evita')
    source = fields.Selection(
        [('deterministic', 'Reglas SII'), ('claude', 'IA (Claude)'), ('odoo', 'Odoo')],
        string='Origen', default='deterministic')

    @api.depends('severity')
    def _compute_sequence(self):
        """Errors first, then warnings, then information."""
        order = {'error': 1, 'warning': 2, 'info': 3}
        for issue in self:
            issue.sequence = order.get(issue.severity, 9)
