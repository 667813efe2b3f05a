"""compengine: a sales compensation engine.

Layers (each imports only the ones before it):
``core`` (money, periods, errors) -> ``plans`` (load, validate, compile) ->
``engine`` (pure calculation) -> ``ledger`` (SQLAlchemy), ``statements``
(Jinja2, WeasyPrint) -> ``cli`` (click).
"""

__version__ = "0.1.0"
