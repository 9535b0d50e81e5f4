"""citysmart: an open smart-city platform."""

__version__ = "0.1.0"
