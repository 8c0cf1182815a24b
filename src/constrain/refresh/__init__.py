"""The mechanics of ``constrain refresh``: settings, pin diffs and the report.

:mod:`.settings` merges the command line with ``[tool.constrain.refresh]``; :mod:`.diff` reads
the committed files and compares pins; :mod:`.report` renders the diff as markdown and JSON.
The command itself (targets resolved in parallel over one session, files written) is
:func:`constrain.app.refresh.refresh_command`.
"""
