"""Pure-Python helpers of the ``l10n_cl_dte`` addon.

Nothing in this package imports ``odoo``: CI tests it with a plain ``python3`` (standard library,
plus ``requests`` for :mod:`.client`, which is imported lazily so that a machine without
``requests`` can still use :mod:`.payload` and :mod:`.signing`).

- :mod:`.payload`  -- invoice snapshot (plain dict) -> the DTE service's document JSON.
- :mod:`.signing`  -- verification (and, for tests, creation) of Timbre webhook signatures.
- :mod:`.client`   -- HTTP client of the DTE and AI services (``requests``).
"""
