"""Settings of the Timbre connection (``ir.config_parameter`` keys ``l10n_cl_dte.*``).

Only DTE administrators (and system administrators, who open the settings) change them. The API key
and the webhook secret are never logged.
"""
import logging

from odoo import fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)

#: Events each Odoo endpoint subscribes to on the DTE service.
WEBHOOK_ROUTES = {
    '/dte/webhook/status_update': ['dte.status_changed'],
    '/dte/webhook/error_alert': ['dte.error'],
}


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    dte_service_url = fields.Char(string='URL del servicio DTE', config_parameter='l10n_cl_dte.dte_service_url')
    dte_ai_service_url = fields.Char(string='URL del servicio de IA', config_parameter='l10n_cl_dte.ai_service_url')
    dte_api_key = fields.Char(string='API key de Timbre', config_parameter='l10n_cl_dte.api_key')
    dte_webhook_secret = fields.Char(
        string='Secreto de webhooks', config_parameter='l10n_cl_dte.webhook_secret',
        help='Secreto HMAC de las suscripciones; varios separados por comas durante una rotación.')
    dte_environment = fields.Selection(
        [('sim', 'Simulación'), ('certificacion', 'Certificación (maullin)'), ('produccion', 'Producción (palena)')],
        string='Ambiente SII', config_parameter='l10n_cl_dte.environment', default='sim')
    dte_acteco = fields.Char(related='company_id.dte_acteco', readonly=False)

    def _dte_check_admin(self):
        if not self.env.user.has_group('l10n_cl_dte.group_dte_admin'):
            raise UserError(self.env._('Solo los administradores DTE pueden cambiar la conexión con Timbre.'))

    def set_values(self):
        """Only DTE administrators may change the ``l10n_cl_dte.*`` parameters."""
        icp = self.env['ir.config_parameter'].sudo()
        changed = any((self[name] or False) != (icp.get_param(key) or False) for name, key in (
            ('dte_service_url', 'l10n_cl_dte.dte_service_url'), ('dte_ai_service_url', 'l10n_cl_dte.ai_service_url'),
            ('dte_api_key', 'l10n_cl_dte.api_key'), ('dte_webhook_secret', 'l10n_cl_dte.webhook_secret'),
            ('dte_environment', 'l10n_cl_dte.environment')))
        if changed:
            self._dte_check_admin()
        return super().set_values()

    def action_dte_test_connection(self):
        """Save, then call ``/health`` of both services and, with the API key, one authenticated
        read of the DTE service (the company's CAF status): ``/health`` needs no key, so without it
        a wrong or under-privileged key would pass the test and fail on the first invoice."""
        from ..lib.client import TimbreServiceError
        self._dte_check_admin()
        self.execute()
        client = self.env['l10n_cl_dte.service']._client(require_dte=False)
        health = client.health()
        lines, ok = [], True
        for name, label in (('dte', self.env._('Servicio DTE')), ('ai', self.env._('Servicio de IA'))):
            item = health.get(name) or {}
            ok = ok and bool(item.get('ok'))
            lines.append('%s: %s%s' % (label, self.env._('OK') if item.get('ok') else self.env._('sin conexión'),
                                        (' (%s)' % item['detail']) if item.get('detail') else ''))
        company = self.company_id or self.env.company
        if (health.get('dte') or {}).get('ok'):
            if not company.vat:
                ok = False
                lines.append(self.env._('Credenciales: la empresa %s no tiene RUT.', company.name))
            else:
                try:
                    client.caf_status(company.vat)
                    lines.append(self.env._('Credenciales: OK para %s', company.vat))
                except TimbreServiceError as err:
                    ok = False
                    lines.append(self.env._('Credenciales: rechazadas (%(code)s %(detail)s)', code=err.code, detail=err.detail or ''))
        return {
            'type': 'ir.actions.client',
            'tag': 'display_notification',
            'params': {'title': self.env._('Prueba de conexión'), 'message': '\n'.join(lines),
                       'type': 'success' if ok else 'danger', 'sticky': not ok},
        }

    def action_dte_register_webhooks(self):
        """Subscribe this Odoo's status and error endpoints on the DTE service and keep the secret.

        Both subscriptions share one HMAC secret: the one already configured when it is long enough
        for the service (≥ 32 characters; the AI service's sii_change sender may be using it), else
        the one the service generates for the first subscription (shown once), which is then stored
        in ``l10n_cl_dte.webhook_secret``. The subscriptions registered by an earlier press (ids kept
        per company in ``l10n_cl_dte.webhook_subscriptions.<company id>``) are deleted first: they
        would go on signing with a secret this Odoo may no longer hold.
        """
        from ..lib.client import TimbreServiceError
        self._dte_check_admin()
        self.execute()
        company = self.company_id or self.env.company
        if not company.vat:
            raise UserError(self.env._('La empresa %s no tiene RUT.', company.name))
        base = self.env['ir.config_parameter'].sudo().get_param('web.base.url', '').rstrip('/')
        client = self.env['l10n_cl_dte.service']._client()
        current = self.env['l10n_cl_dte.service']._webhook_secrets()
        secret = current[0] if current and len(current[0]) >= 32 else None
        icp = self.env['ir.config_parameter'].sudo()
        key = 'l10n_cl_dte.webhook_subscriptions.%d' % company.id
        ids = []
        try:
            for old in [x for x in (icp.get_param(key) or '').split(',') if x.strip().isdigit()]:
                client.delete_webhook(int(old))
            for route, events in WEBHOOK_ROUTES.items():
                sub_id, secret = client.register_webhook(company.vat, base + route, events, secret=secret)
                ids.append(str(sub_id))
        except TimbreServiceError as err:
            raise UserError(self.env._('El servicio DTE no registró los webhooks: %s', err.detail or err.code)) from err
        icp.set_param(key, ','.join(ids))
        if secret and secret not in current:
            icp.set_param('l10n_cl_dte.webhook_secret', secret)
        _logger.info('Timbre webhook subscriptions %s registered for company %s', ', '.join(ids), company.id)
        return {
            'type': 'ir.actions.client',
            'tag': 'display_notification',
            'params': {'title': self.env._('Webhooks registrados'), 'type': 'success',
                       'message': self.env._('Suscripciones %s en %s.', ', '.join(ids), base),
                       'next': {'type': 'ir.actions.client', 'tag': 'reload'}},
        }
