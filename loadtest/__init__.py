"""Load tests with k6: the PC workload, its runner and its reports."""
