"""Live mode: OCPP server, store, tracker, controller, simulated chargers, independent peers."""
