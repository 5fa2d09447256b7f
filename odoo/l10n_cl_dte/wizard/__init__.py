"""Wizards of the Timbre DTE addon."""
from . import dte_ai_validation_wizard, dte_batch_wizard
