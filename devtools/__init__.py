"""Demo and benchmark data and the commands that load them: for development
and the benchmark, never imported by production code, and left out of the
installed package (production settings run without it)."""
