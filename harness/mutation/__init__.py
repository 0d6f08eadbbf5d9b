"""Mutation testing of a test suite against ``stack_under_test`` (``stackcheck mutate``).

A suite is worth the bugs it catches. This package plants one small, realistic bug (a
*mutant*) at a time into the stack's product code and runs the tests that cover the mutated
line against it; a mutant no test notices *survives* and points at a requirement the suite
does not hold the stack to.

    operators.py    the AST operator set and the stable mutant ids
    sources.py      which files are product code; file hashes
    areas.py        module -> RFC area; the RFC citation nearest a line
    worker.py       a pytest process that collects the suite once and forks a child per mutant
    reload.py       applying a mutant in that child (code swap, or module re-execution)
    coverage_map.py line -> tests, from one run of the suite under coverage with per-test contexts
    infection.py    in that run, which tests make a boundary, a compared constant or a guard differ
    pool.py         the parent side: worker processes, the --max-time deadline, restarts
    cache.py        results keyed by (file hash, mutant, tests and their files' hashes)
    equivalents.py  the reviewed list of equivalent mutants and excluded files
    run.py          one campaign: mutants -> tests -> workers -> results
    report.py       mutation.json, mutation.md, mutation.html
    command.py      the ``stackcheck mutate`` arguments and entry point
"""
