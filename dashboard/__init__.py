"""The coopwatt dashboard (Dash): household, adviser and manager views behind a login, read-only on the rollups.

``app.create_app(settings)`` builds it; ``app.server`` is what gunicorn serves;
``serve`` runs it (``coopwatt dashboard``); ``pages/`` has one module per page.
"""
