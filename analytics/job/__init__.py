"""The scheduled analytics job: reads the rollups, runs the pure core, writes the results tables (0003)."""
