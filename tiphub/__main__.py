"""``python -m tiphub``: the same command line as ``tiphub``."""

from tiphub.cli.app import main

main()
