"""Run every benchmark and print its numbers; `--smoke` runs small sizes (what CI runs)."""

import argparse

from bench import api_calls, compile_time, reload

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small sizes, to check the benchmarks run")
    smoke = parser.parse_args().smoke
    compile_time.main()
    reload.main()
    api_calls.main(400 if smoke else 10_000)
