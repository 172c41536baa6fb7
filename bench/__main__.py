"""Run every benchmark and print its numbers."""

from bench import reload

if __name__ == "__main__":
    reload.main()
