"""`python -m liverecd` is the `liverecd` console script."""

import sys

from liverecd.cli import main

sys.exit(main())
