"""``l10n_cl_dte.service``: the one place that turns the settings into a ``TimbreClient``.

Everything that talks to the Timbre services goes through ``self.env['l10n_cl_dte.service']._client()``
so that tests patch ``TimbreClient`` methods and nothing else. ``lib`` is imported lazily: the addon
installs even while the library is being written.
"""
from odoo import api, models
from odoo.exceptions import UserError

PARAM_PREFIX = 'l10n_cl_dte.'


class L10nClDteService(models.AbstractModel):
    _name = 'l10n_cl_dte.service'
    _description = 'Conexión con los servicios Timbre (DTE e IA)'

    @api.model
    def _get_param(self, name, default=False):
        return self.env['ir.config_parameter'].sudo().get_param(PARAM_PREFIX + name, default)

    @api.model
    def _client(self, require_dte=True):
        """A ``TimbreClient`` configured from the settings (URLs without a trailing slash)."""
        from ..lib.client import TimbreClient
        dte_url = (self._get_param('dte_service_url') or '').strip().rstrip('/')
        ai_url = (self._get_param('ai_service_url') or '').strip().rstrip('/')
        if require_dte and not dte_url:
            raise UserError(self.env._(
                'Configure la URL del servicio DTE de Timbre en Ajustes > Contabilidad > Facturación electrónica (Timbre).'))
        return TimbreClient(dte_url, ai_url, self._get_param('api_key') or '')

    @api.model
    def _webhook_secrets(self):
        """The accepted webhook secrets (several, comma/newline-separated, during a rotation)."""
        raw = self._get_param('webhook_secret') or ''
        return [s.strip() for s in raw.replace('\n', ',').split(',') if s.strip()]
