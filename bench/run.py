#!/usr/bin/env python3
"""Portcullis load-test harness: Portcullis beside node-oidc-provider, driven by wrk.

    python3 bench/run.py                      # defaults: 10 s x 3 repeats, 64 connections
    python3 bench/run.py --duration 5 --repeats 1
    python3 bench/run.py --help

Standard library only. It builds the release binary, starts `portcullis serve` on fresh
databases (SQLite in a temporary directory, a new PostgreSQL database per run), provisions
realms and clients through the CLI, starts the peer (bench/peers/oidc-provider), runs every
scenario of SCENARIOS (portcullis_bench/scenarios.py) with wrk (bench/wrk/bench.lua) on 127.0.0.1
only, stops every process it started by its pid, and writes bench/results/<date>.{json,md,svg}. See bench/README.md.

The code is the package bench/portcullis_bench/; this file only starts it.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from portcullis_bench.cli import main  # noqa: E402 (the package is found through the path above)

if __name__ == "__main__":
    sys.exit(main())
