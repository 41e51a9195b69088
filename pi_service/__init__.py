"""Heel-raise coach: a shoe IMU's samples turned into judged reps, sets and holds."""

__version__ = "0.1.0"
