"""Energy per token (DESIGN layer `energy`, spec/economics.md §5): a power model per GPU driven
by the perf model's iteration breakdown, power cap vs SM clock locking, attention
architectures, and NVML measurement."""
