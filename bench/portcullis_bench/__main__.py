"""`python3 -m portcullis_bench` (from bench/) is the same as `python3 bench/run.py`."""

import sys

from .cli import main

sys.exit(main())
