"""The benchmark harness behind benchmarks/run.py: measure, tools, workloads, runner, report."""
