"""Command line: per command, its arguments in ``parsers/<command>.py`` (argparse only, for a quick
``--help``) and its ``run`` in ``<command>.py``, which ``main`` imports only when the command runs."""
