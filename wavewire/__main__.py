"""``python -m wavewire``: the ``wavewire`` command."""

import sys

from .cli import main

sys.exit(main())
