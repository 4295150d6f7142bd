"""``python -m diarist``: the same as the ``diarist`` console script."""

import sys

from diarist.cli import main

sys.exit(main())
