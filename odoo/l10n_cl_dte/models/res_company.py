"""``res.company``: the economic activity codes (Acteco) the SII requires in the issuer block.

Community ``l10n_cl`` has the giro (``l10n_cl_activity_description``) but no Acteco codes; they are
kept here as comma-separated SII codes (``620200, 631100``), at most four are sent.
"""
import re

from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    _inherit = 'res.company'

    dte_acteco = fields.Char(
        string='Códigos de actividad económica (Acteco)',
        help='Códigos SII de actividad económica de la empresa, separados por comas (máximo 4).')

    def _dte_acteco_codes(self):
        """The Acteco codes as integers, in the order given."""
        self.ensure_one()
        return [int(c) for c in re.findall(r'\d+', self.dte_acteco or '')]

    @api.constrains('dte_acteco')
    def _check_dte_acteco(self):
        for company in self:
            text = (company.dte_acteco or '').strip()
            if text and not re.fullmatch(r'\d{1,6}(\s*[,;]\s*\d{1,6}){0,3}', text):
                raise ValidationError(self.env._(
                    'Acteco: hasta 4 códigos numéricos de 1 a 6 dígitos separados por comas.'))
