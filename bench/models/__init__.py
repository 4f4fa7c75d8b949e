"""Random-weight production models built from each library's own config: tiny for tests, full size for benchmarks."""
