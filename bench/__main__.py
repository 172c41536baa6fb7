"""Run every benchmark, print the table and save it to bench/results.json with the machine it ran
on. `--smoke` runs small sizes, only to check the benchmarks work (what CI runs); it saves
nothing unless `--out` says where."""

import argparse
from pathlib import Path

from bench import (
    activities,
    api_calls,
    compile_time,
    plan_floor,
    plan_scale,
    reload,
    rest_reads,
    salesforce_floor,
    sandbox_keys,
    sql_scale,
    transform,
    workers,
)
from bench.results import save, table

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small sizes, to check the benchmarks run")
    parser.add_argument("--out", type=Path, help="where to save the results (default: bench/results.json)")
    arguments = parser.parse_args()
    smoke = arguments.smoke
    results = [
        *transform.main(5_000 if smoke else 50_000),
        *plan_floor.main(3_000 if smoke else 1_000_000),
        *plan_floor.main(*((1_000, 3_000) if smoke else (100_000, 1_000_000))),
        *plan_scale.main(*((3_000, 1_000) if smoke else (1_000_000, 100_000))),
        *sql_scale.main(3_000 if smoke else 1_000_000),
        *rest_reads.main(2_000 if smoke else 100_000),
        *api_calls.main(400 if smoke else 10_000),
        *salesforce_floor.main(3_000 if smoke else 100_000),
        *sandbox_keys.main(300 if smoke else 10_000),
        *activities.main(250 if smoke else 1_000),
        *compile_time.main(),
        *reload.main(),
        *workers.main(*((1, 10) if smoke else (30, 1_000))),
    ]
    print()
    print(table(results))
    out = arguments.out or (None if smoke else Path(__file__).parent / "results.json")
    if out is not None:
        save(results, out, smoke)
        print(f"\nsaved to {out}")
