"""``python -m sparkle.train`` is ``python -m sparkle.train.launch`` (what the shell scripts call)."""

import sys

from sparkle.train.launch import main

sys.exit(main())
