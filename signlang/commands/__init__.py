"""The ``signlang`` command line: ``cli.py`` dispatches to one module per subcommand, each with
``add_arguments(parser)`` and ``run(args) -> exit status``. Commands sit on top: they may import
any package, and nothing imports them."""
