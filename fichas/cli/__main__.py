"""``python -m fichas.cli``: the ``fichas`` command without the installed script."""

import sys

from fichas.cli import main

sys.exit(main())
