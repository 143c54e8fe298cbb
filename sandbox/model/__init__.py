"""The pure core: scenario format, actions, knobs, metrics, expectations. No IO, no engines, no UI."""
