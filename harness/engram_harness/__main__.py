import sys

from engram_harness.cli import main

sys.exit(main())
