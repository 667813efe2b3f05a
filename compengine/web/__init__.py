"""The web portal (``compengine serve``): a Starlette app over the ledger.

Inputs: an opened ledger engine. Outputs: HTML pages and a JSON API for reps,
managers, ops, finance and admins. ``app`` builds the routes, ``permissions`` is
the one place that decides who may see or do what, ``auth`` signs sessions and
limits logins, ``jobs`` runs long closes in the background, ``charts`` draws SVG.
Templates and CSS are package data (``templates/``, ``static/``).
"""
