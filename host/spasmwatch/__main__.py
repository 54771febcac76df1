"""`python -m spasmwatch`: the same CLI as the `spasmwatch` command."""

import sys

from spasmwatch.cli import main

sys.exit(main())
