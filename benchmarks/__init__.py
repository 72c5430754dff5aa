"""Performance benchmarks (``virag bench``): outside the test suite; outputs go to git-ignored ``bench_out/``."""
