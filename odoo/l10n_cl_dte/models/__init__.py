"""Odoo models of the Timbre DTE addon."""
from . import l10n_cl_dte_service, res_company, account_move, dte_sii_news, dte_webhook_delivery, dte_batch
from . import res_config_settings
from . import dte_folio_dashboard
