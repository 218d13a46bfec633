"""`python -m ovtf.cli ...`: the same as the `ovtf` command."""

import sys

from ovtf.cli import main

sys.exit(main())
