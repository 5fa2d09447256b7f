"""Folio dashboard (``dte.folio.dashboard``): one record per company × DTE type.

Folios come from CAFs (ranges the SII authorises); running out stops billing, and CAFs of some
types expire six months after authorisation. ``action_refresh`` reads the folios left from the
DTE service (``GET /api/v1/dte/caf/status``) and asks the AI service for a 30-day forecast
(``POST /api/ai/forecast/folios``) from the company's own posted documents per day (last 365
days, every day present, 0 when none). ``alert`` flags the types that need a new CAF soon.
"""
import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..lib.client import TimbreServiceError

_logger = logging.getLogger(__name__)

#: Forecast horizon (days): the alert looks this far ahead.
HORIZON_DAYS = 30
#: Days of history sent to the forecaster.
HISTORY_DAYS = 365
#: DTE types with folios (52 included: its CAFs are loaded even if this addon does not send guías).
FOLIO_TYPES = ('33', '34', '39', '41', '52', '56', '61', '110', '111', '112')


class DteFolioDashboard(models.Model):
    """Folios left and forecast demand for one DTE type of one company."""

    _name = 'dte.folio.dashboard'
    _description = 'Tablero de folios DTE'
    _order = 'company_id, dte_type'
    _rec_name = 'dte_type'

    _company_type_uniq = models.Constraint(
        'UNIQUE(company_id, dte_type)', 'Ya existe una fila del tablero para esa empresa y tipo de documento.')

    company_id = fields.Many2one('res.company', string='Empresa', required=True, ondelete='cascade',
                                 default=lambda self: self.env.company)
    dte_type = fields.Char(string='Tipo DTE', required=True, readonly=True)
    document_type_id = fields.Many2one('l10n_latam.document.type', string='Tipo de documento',
                                       compute='_compute_document_type_id', store=True)
    folios_left = fields.Integer(string='Folios disponibles', readonly=True)
    next_folio = fields.Integer(string='Próximo folio', readonly=True)
    caf_expires_on = fields.Date(string='Vencimiento CAF', readonly=True)
    forecast_30d = fields.Integer(string='Pronóstico 30 días', readonly=True,
                                  help='Documentos que se espera emitir en los próximos 30 días (servicio de IA).')
    forecast_runs_out_on = fields.Date(string='Se agotan el', readonly=True,
                                       help='Primer día en que la demanda esperada no puede cubrirse con los folios disponibles.')
    avg_daily = fields.Float(string='Promedio diario', readonly=True, digits=(16, 2))
    model_accuracy = fields.Float(string='Precisión del modelo', readonly=True, digits=(3, 2))
    request_by = fields.Date(string='Solicitar CAF antes del', readonly=True)
    warnings = fields.Text(string='Avisos del servicio', readonly=True)
    alert = fields.Boolean(string='Alerta', compute='_compute_alert', store=True)
    alert_message = fields.Char(string='Mensaje de alerta', compute='_compute_alert', store=True)
    last_refresh = fields.Datetime(string='Última actualización', readonly=True)
    refresh_error = fields.Text(string='Error de actualización', readonly=True)

    @api.depends('dte_type')
    def _compute_document_type_id(self):
        cl = self.env.ref('base.cl', raise_if_not_found=False)
        for row in self:
            row.document_type_id = self.env['l10n_latam.document.type'].search(
                [('code', '=', row.dte_type), ('country_id', '=', cl.id if cl else False)], limit=1)

    @api.depends('dte_type', 'document_type_id', 'company_id')
    def _compute_display_name(self):
        """``(33) Factura Electrónica`` (plus the company when the user has several)."""
        multi = len(self.env.companies) > 1
        for row in self:
            name = row.document_type_id.display_name or row.dte_type or ''
            row.display_name = '%s - %s' % (name, row.company_id.name) if multi and row.company_id else name

    @api.depends('folios_left', 'forecast_30d', 'forecast_runs_out_on', 'caf_expires_on', 'last_refresh')
    def _compute_alert(self):
        """Alert when the 30-day forecast exceeds the folios left, or they run out (or expire) within it."""
        today = fields.Date.context_today(self)
        horizon_end = today + timedelta(days=HORIZON_DAYS)
        for row in self:
            messages = []
            if row.forecast_30d > row.folios_left:
                messages.append(self.env._('Se pronostican %(forecast)s documentos en 30 días y quedan %(left)s folios',
                                           forecast=row.forecast_30d, left=row.folios_left))
            elif row.forecast_runs_out_on and row.forecast_runs_out_on <= horizon_end:
                messages.append(self.env._('Los folios se agotarían el %s', fields.Date.to_string(row.forecast_runs_out_on)))
            if row.caf_expires_on and row.folios_left and row.caf_expires_on <= horizon_end:
                messages.append(self.env._('El CAF vence el %s con folios sin usar', fields.Date.to_string(row.caf_expires_on)))
            row.alert = bool(messages)
            row.alert_message = '; '.join(messages) or False

    # ------------------------------------------------------------------ data
    @api.model
    def _daily_history(self, company, dte_type, today=None):
        """``{YYYY-MM-DD: count}`` of the company's posted documents of ``dte_type`` per day.

        Every one of the last 365 days up to yesterday is present (0 when nothing was issued): the
        forecaster needs at least 14 days and treats today as the first forecast day.
        """
        today = today or fields.Date.context_today(self)
        start = today - timedelta(days=HISTORY_DAYS)
        history = {fields.Date.to_string(start + timedelta(days=n)): 0 for n in range(HISTORY_DAYS)}
        groups = self.env['account.move'].sudo()._read_group(
            [('company_id', '=', company.id), ('state', '=', 'posted'),
             ('move_type', 'in', ('out_invoice', 'out_refund', 'out_receipt')),
             ('l10n_latam_document_type_id.code', '=', dte_type),
             ('invoice_date', '>=', start), ('invoice_date', '<', today)],
            groupby=['invoice_date:day'], aggregates=['__count'])
        for day, count in groups:
            if day:
                history[fields.Date.to_string(day)] = count
        return history

    @api.model
    def _company_types(self, company, caf_answer):
        """DTE types to show: those with CAFs at the service plus those issued in the last year."""
        types = {str(t.get('tipoDte')) for t in caf_answer.get('tipos') or [] if t.get('tipoDte') is not None}
        start = fields.Date.context_today(self) - timedelta(days=HISTORY_DAYS)
        groups = self.env['account.move'].sudo()._read_group(
            [('company_id', '=', company.id), ('state', '=', 'posted'),
             ('move_type', 'in', ('out_invoice', 'out_refund', 'out_receipt')),
             ('l10n_latam_document_type_id.code', 'in', FOLIO_TYPES), ('invoice_date', '>=', start)],
            groupby=['l10n_latam_document_type_id'], aggregates=['__count'])
        types |= {doc_type.code for doc_type, _count in groups if doc_type}
        return sorted((t for t in types if t in FOLIO_TYPES), key=int)

    @api.model
    def _refresh_company(self, company):
        """Read CAF status and forecasts for one company and upsert its rows. Returns the rows."""
        if not company.vat:
            raise UserError(self.env._('La empresa %s no tiene RUT.', company.name))
        client = self.env['l10n_cl_dte.service']._client()
        caf_answer = client.caf_status(company.vat) or {}
        by_type = {str(t.get('tipoDte')): t for t in caf_answer.get('tipos') or []}
        rows = self.browse()
        for dte_type in self._company_types(company, caf_answer):
            status = by_type.get(dte_type, {})
            values = {
                'folios_left': int(status.get('foliosLeft') or 0),
                'next_folio': int(status.get('nextFolio') or 0),
                'caf_expires_on': status.get('expiresAt') or False,
                'warnings': '\n'.join(status.get('warnings') or []) or False,
                'last_refresh': fields.Datetime.now(),
                'refresh_error': False,
            }
            remaining = [{
                'desde': caf['desde'], 'hasta': caf['hasta'],
                'next': caf.get('nextFolio') or caf['desde'],
                'fecha_autorizacion': caf['fechaAutorizacion'],
            } for caf in status.get('cafs') or [] if caf.get('usable') and caf.get('foliosLeft')]
            try:
                forecast = client.forecast(int(dte_type), self._daily_history(company, dte_type), HORIZON_DAYS,
                                           company.vat, remaining=remaining or None) or {}
            except (TimbreServiceError, OSError) as err:
                _logger.warning('Folio forecast of type %s for company %s failed: %s', dte_type, company.id, err)
                values['refresh_error'] = str(err)
                forecast = None
            if forecast is not None:
                supply = forecast.get('supply') or {}
                recommendation = supply.get('recommendation') or {}
                values.update({
                    'forecast_30d': int(forecast.get('predicted_usage') or 0),
                    'avg_daily': float(forecast.get('avg_daily') or 0.0),
                    'model_accuracy': float(forecast.get('model_accuracy') or 0.0),
                    'forecast_runs_out_on': supply.get('runs_out_on') or False,
                    'request_by': recommendation.get('request_by') or False,
                })
            row = self.search([('company_id', '=', company.id), ('dte_type', '=', dte_type)], limit=1)
            if row:
                row.write(values)
            else:
                row = self.create(dict(values, company_id=company.id, dte_type=dte_type))
            rows |= row
        return rows

    @api.model
    def _cl_companies(self):
        """Chilean companies with a RUT: the ones with folios at the DTE service."""
        return self.env['res.company'].sudo().search([]).filtered(
            lambda c: c.account_fiscal_country_id.code == 'CL' and c.vat)

    def action_refresh(self):
        """Refresh the companies of the selected rows (or the user's Chilean companies when none)."""
        companies = self.company_id or self.env.companies.filtered(lambda c: c.account_fiscal_country_id.code == 'CL')
        if not companies:
            raise UserError(self.env._('No hay empresas chilenas seleccionadas.'))
        for company in companies:
            try:
                self._refresh_company(company)
            except (TimbreServiceError, OSError) as err:
                raise UserError(self.env._('No se pudo consultar el servicio DTE de Timbre: %s', err)) from err
        return {'type': 'ir.actions.client', 'tag': 'reload'}

    @api.model
    def _refresh_all(self):
        """Cron entry point: refresh every Chilean company, one failure does not stop the others."""
        for company in self._cl_companies():
            try:
                with self.env.cr.savepoint():
                    self._refresh_company(company)
            except (TimbreServiceError, OSError, UserError) as err:
                _logger.warning('Folio dashboard refresh of company %s failed: %s', company.id, err)
        return True
