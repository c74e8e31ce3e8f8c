"""``python -m reality`` is the ``reality`` command."""

import sys

from reality.cli import main

sys.exit(main())
