"""The resort domain: the workload the platform makes fast."""
