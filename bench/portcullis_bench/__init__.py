"""Portcullis load-test harness: Portcullis beside node-oidc-provider, driven by wrk.

Standard library only; `python3 bench/run.py` is its entry point (see bench/README.md). Modules:

    cli         flags, and one whole invocation from the build to the report files
    build       wrk and the Portcullis release binary
    runner      the run loop: a phase per backend, scenarios measured repeat by repeat
    scenarios   what load each scenario puts on a side (SCENARIOS)
    side        what a scenario needs from a server under test
    portcullis  Portcullis: its database, provisioning through the CLI, `serve` started and stopped
    peer        node-oidc-provider on its pinned node
    wrk         one measured wrk run (bench/wrk/bench.lua checks the answers)
    browser     login and consent pages, for the end-user flows
    bigtable    synthetic rows for introspect_10m and purge_1m
    postgres    the local PostgreSQL server: its processes' CPU
    procfs      /proc readings: CPU, memory, core utilisation
    report      machine facts and the Markdown report
    chart       the SVG chart
    common      constants, errors, processes, loopback HTTP
"""
