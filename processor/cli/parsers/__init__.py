"""The command line's arguments: one module per command, each with ``add_parser(subparsers)``.

These import nothing heavier than argparse and the config's constants, so ``spectssp --help``
and ``spectssp COMMAND --help`` answer at once. The command itself (``processor/cli/<name>.py``,
imports at its top) is imported by ``processor.cli.main`` only when it runs; a command with
actions names each action's module instead (``set_defaults(command_module=...)``), so that a
light action does not import what a heavy one needs.
"""
from processor.cli.parsers import batch, demo, evaluate, inspect, normaldb, phantom, process, serve, status, train, watch

# name -> the module that adds its arguments, in the order --help lists them
COMMANDS = {"process": process, "batch": batch, "watch": watch, "status": status, "serve": serve, "inspect": inspect, "phantom": phantom,
            "normaldb": normaldb, "train": train, "evaluate": evaluate, "demo": demo}
