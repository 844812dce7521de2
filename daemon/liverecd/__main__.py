"""`python -m liverecd` is the `liverecd` console script."""

import sys

if sys.argv[1:2] == ["run"]:
    from liverecd.ops import signals  # before anything heavier: issue 12, case 8

    signals.hold()

from liverecd.cli import main  # after the signal guard, on purpose

sys.exit(main())
