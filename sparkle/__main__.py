import sys

from sparkle.cli import main

sys.exit(main())
