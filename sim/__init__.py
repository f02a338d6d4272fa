"""feedertwin: a digital twin of a distribution feeder with EV charging."""

__version__ = "0.1.0"
