"""Odoo tests of the Timbre DTE addon (run with --test-tags /l10n_cl_dte)."""
from . import test_payload_odoo
from . import test_actions
from . import test_webhooks
from . import test_access
from . import test_wizards
from . import test_dashboard
