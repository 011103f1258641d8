import sys

from rram_sim.cli import main

sys.exit(main())
