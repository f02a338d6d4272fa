"""The discrete-event model (the only room that imports simpy)."""

from sim.engine.simulation import Setup, Simulation, build_setup, simulate

__all__ = ["Setup", "Simulation", "build_setup", "simulate"]
