"""Orchestration: one pipeline function per command, over one session built for the command.

:mod:`.requests` holds what a command is asked (typed values the CLI builds from argv),
:mod:`.session` the long-lived parts (cache, HTTP client, repository), :mod:`.resolve` the
resolve pipeline, and :mod:`.install`, :mod:`.download`, :mod:`.refresh`, :mod:`.policy`, :mod:`.audit`,
:mod:`.cache` the other commands. Nothing here parses argv or prints: the functions return data to ``cli``.
"""
