"""Odoo tests of the folio dashboard ``dte.folio.dashboard`` (VIEWS helper).

``TimbreClient.caf_status`` and ``TimbreClient.forecast`` are patched with the real answer shapes
of ``GET /api/v1/dte/caf/status`` (services/dte/src/routes/admin.ts: ``tipos`` are the store's
camelCase ``TipoCafStatus``) and ``POST /api/ai/forecast/folios`` (services/ai/src/routes/forecast.ts).
"""
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from odoo.addons.l10n_cl_dte.lib.client import TimbreClient

from .test_wizards import DteViewsCommon


def caf_status_answer(today):
    """Type 33: 40 folios left in a CAF expiring in 5 months; type 39: 5,000 left, no expiry."""
    expires = fields.Date.to_string(today + timedelta(days=150))
    authorised = fields.Date.to_string(today - timedelta(days=33))
    return {
        'rut_emisor': '76086428-5',
        'fecha': fields.Date.to_string(today),
        'tipos': [
            {'tipoDte': 33, 'foliosLeft': 40, 'nextFolio': 161, 'expiresAt': expires,
             'cafs': [{'cafId': 3, 'desde': 1, 'hasta': 200, 'nextFolio': 161, 'foliosLeft': 40,
                       'fechaAutorizacion': authorised, 'expiresAt': expires, 'usable': True}],
             'warnings': ['only 40 folios left for type 33']},
            {'tipoDte': 39, 'foliosLeft': 5000, 'nextFolio': 1,
             'cafs': [{'cafId': 4, 'desde': 1, 'hasta': 5000, 'nextFolio': 1, 'foliosLeft': 5000,
                       'fechaAutorizacion': authorised, 'usable': True}],
             'warnings': []},
        ],
        'cafs': [
            {'id': 3, 'rut_emisor': '76086428-5', 'tipo_dte': 33, 'desde': 1, 'hasta': 200,
             'fecha_autorizacion': authorised, 'idk': 100, 'next_folio': 161, 'created_at': '2026-11-01T12:00:00Z'},
            {'id': 4, 'rut_emisor': '76086428-5', 'tipo_dte': 39, 'desde': 1, 'hasta': 5000,
             'fecha_autorizacion': authorised, 'idk': 100, 'next_folio': 1, 'created_at': '2026-11-01T12:00:00Z'},
        ],
    }


def forecast_answer(today, predicted, runs_out_in=None):
    """forecast.ts' answer: ``predicted`` documents over 30 days, folios out in ``runs_out_in`` days."""
    daily = predicted / 30.0
    runs_out = fields.Date.to_string(today + timedelta(days=runs_out_in)) if runs_out_in is not None else None
    return {
        'predicted_usage': predicted,
        'daily_predictions': [{
            'date': fields.Date.to_string(today + timedelta(days=n)), 'predicted_count': daily,
            'confidence_low': daily * 0.7, 'confidence_high': daily * 1.3} for n in range(30)],
        'avg_daily': round(daily, 2),
        'peak_day': 'tuesday',
        'model_accuracy': 0.82,
        'model': 'seasonal_naive_weekly',
        'backtest': {'origins': 8, 'horizon': 30, 'mase': 0.7, 'wape': 0.18,
                     'candidates': [{'model': 'seasonal_naive_weekly', 'mase': 0.7}]},
        'supply': {
            'remaining_folios': 40,
            'runs_out_on': runs_out,
            'runs_out_on_p80': runs_out,
            'expires_on': None,
            'reason': 'exhausted' if runs_out else None,
            'recommendation': {'request_by': fields.Date.to_string(today + timedelta(days=5)), 'folios': 200} if runs_out else None,
        },
    }


@tagged('post_install_l10n', 'post_install', '-at_install')
class TestDteFolioDashboard(DteViewsCommon):

    def _refresh(self):
        today = fields.Date.context_today(self.env['dte.folio.dashboard'])
        answers = {33: forecast_answer(today, 90, runs_out_in=14), 39: forecast_answer(today, 30)}

        def fake_forecast(client, dte_type, historical_data, horizon_days, company_id, remaining=None):
            return answers[int(dte_type)]

        with patch.object(TimbreClient, 'caf_status', autospec=True, return_value=caf_status_answer(today)) as caf, \
                patch.object(TimbreClient, 'forecast', autospec=True, side_effect=fake_forecast) as forecast:
            self.env['dte.folio.dashboard'].action_refresh()
        return caf, forecast, today

    def test_refresh_and_alert(self):
        self._cl_invoice(invoice_date=fields.Date.today() - timedelta(days=3))
        self._cl_invoice(invoice_date=fields.Date.today() - timedelta(days=3))
        self._cl_invoice(invoice_date=fields.Date.today() - timedelta(days=1))
        caf, forecast, today = self._refresh()
        self.assertEqual(caf.call_args.args[1], '76086428-5')
        self.assertEqual(forecast.call_count, 2)
        call_33 = next(c for c in forecast.call_args_list if int(c.args[1]) == 33)
        _client, _type, history, horizon, company_id = call_33.args
        self.assertEqual(horizon, 30)
        self.assertEqual(company_id, '76086428-5')
        self.assertEqual(len(history), 365, 'every day of the last year, zeros included')
        self.assertEqual(history[fields.Date.to_string(today - timedelta(days=3))], 2)
        self.assertEqual(history[fields.Date.to_string(today - timedelta(days=1))], 1)
        self.assertNotIn(fields.Date.to_string(today), history, 'today is the first forecast day')
        self.assertEqual(call_33.kwargs['remaining'],
                         [{'desde': 1, 'hasta': 200, 'next': 161,
                           'fecha_autorizacion': fields.Date.to_string(today - timedelta(days=33))}])

        rows = self.env['dte.folio.dashboard'].search([('company_id', '=', self.company.id)])
        row_33 = rows.filtered(lambda r: r.dte_type == '33')
        row_39 = rows.filtered(lambda r: r.dte_type == '39')
        self.assertEqual(row_33.folios_left, 40)
        self.assertEqual(row_33.next_folio, 161)
        self.assertEqual(row_33.forecast_30d, 90)
        self.assertEqual(row_33.forecast_runs_out_on, today + timedelta(days=14))
        self.assertEqual(row_33.document_type_id, self.env.ref('l10n_cl.dc_a_f_dte'))
        self.assertIn('(33)', row_33.display_name)
        self.assertTrue(row_33.alert, 'forecast 90 > 40 folios left')
        self.assertIn('90', row_33.alert_message)
        self.assertFalse(row_39.alert, '30 expected, 5,000 left, no expiry')
        self.assertEqual(self.env['dte.folio.dashboard'].search([('alert', '=', True), ('company_id', '=', self.company.id)]), row_33)

        # Refreshing again updates the same rows (one per company × type).
        self._refresh()
        self.assertEqual(self.env['dte.folio.dashboard'].search([('company_id', '=', self.company.id)]), rows)

    def test_expiry_alert(self):
        row = self.env['dte.folio.dashboard'].create({
            'company_id': self.company.id, 'dte_type': '61', 'folios_left': 500, 'forecast_30d': 10,
            'caf_expires_on': fields.Date.today() + timedelta(days=10)})
        self.assertTrue(row.alert)
        self.assertIn('vence', row.alert_message)

    def test_refresh_all_survives_service_errors(self):
        with patch.object(TimbreClient, 'caf_status', autospec=True, side_effect=OSError('connection refused')):
            self.assertTrue(self.env['dte.folio.dashboard']._refresh_all())

    def test_views_load(self):
        views = self.env['dte.folio.dashboard'].get_views([(False, 'list'), (False, 'form'), (False, 'graph'), (False, 'search')])
        self.assertIn('folios_left', views['views']['graph']['arch'])
        self.assertIn('forecast_30d', views['views']['graph']['arch'])
        self.assertIn('name="alerts"', views['views']['search']['arch'])
        action = self.env.ref('l10n_cl_dte.action_dte_folio_dashboard')
        self.assertIn('graph', action.view_mode)


@tagged('post_install_l10n', 'post_install', '-at_install')
class TestDteViews(DteViewsCommon):
    """Every view of the addon loads, and the invoice's DTE buttons follow the DTE groups."""

    def test_actions_views_load(self):
        for xmlid in ('action_dte_batch', 'action_dte_folio_dashboard', 'action_dte_sii_news',
                      'action_dte_batch_wizard', 'action_dte_ai_validation_wizard', 'action_dte_config_settings'):
            action = self.env.ref('l10n_cl_dte.%s' % xmlid)
            views = self.env[action.res_model].get_views([(False, mode) for mode in action.view_mode.split(',')] + [(False, 'search')])
            self.assertTrue(views['views'], xmlid)
        settings = self.env['res.config.settings'].get_views([(False, 'form')])['views']['form']['arch']
        self.assertIn('action_dte_test_connection', settings)
        self.assertIn('action_dte_register_webhooks', settings)
        news = self.env['dte.sii.news'].get_views([(False, 'search')])['views']['search']['arch']
        for name in ('priority_high', 'priority_medium', 'priority_low', 'group_tipo'):
            self.assertIn('name="%s"' % name, news)

    def test_invoice_buttons_follow_groups(self):
        form = self.env['account.move'].get_views([(False, 'form')])['views']['form']['arch']
        for button in ('action_generate_and_send_dte', 'action_check_dte_status', 'action_ai_prevalidate'):
            self.assertIn('name="%s"' % button, form)
        self.assertIn('name="l10n_cl_dte"', form, 'the DTE page')
        plain = self.env['res.users'].create({
            'name': 'Facturador sin DTE', 'login': 'facturador_sin_dte',
            'group_ids': [fields.Command.set([self.env.ref('account.group_account_invoice').id])],
            'company_id': self.company.id, 'company_ids': [fields.Command.set(self.company.ids)],
        })
        self.assertFalse(plain.has_group('l10n_cl_dte.group_dte_user'))
        form = self.env['account.move'].with_user(plain).get_views([(False, 'form')])['views']['form']['arch']
        self.assertNotIn('action_generate_and_send_dte', form)
        self.assertNotIn('name="l10n_cl_dte"', form)
