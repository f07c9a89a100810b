"""The measurements behind `alur bench` (the command and its table are in :mod:`bench.cli`).

* :mod:`.action` one completion vs raw SpiffWorkflow, and over revision rounds;
* :mod:`.large` a database of many waiting cases (made by :mod:`.bulk`): the inbox and the timer sweep;
* :mod:`.http` completions per second through gunicorn, with :class:`bench.livestack.LocalStack`;
* :mod:`.replay` rebuilding and re-executing a case from its history;
* :mod:`.memory` peak memory of `alur simulate`;
* :mod:`.runner` all of them in order, on SQLite and PostgreSQL.
"""
