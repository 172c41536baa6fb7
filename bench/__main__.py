"""Run every benchmark and print its numbers."""

from bench import compile_time, reload

if __name__ == "__main__":
    compile_time.main()
    reload.main()
