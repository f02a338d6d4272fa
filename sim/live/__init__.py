"""Live mode: real chargers over OCPP 1.6J and 2.0.1 mirrored into the twin (see docs/live.md)."""
