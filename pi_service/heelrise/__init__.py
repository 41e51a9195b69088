"""The clinical single-leg heel-rise endurance test: guided, judged, measured, compared.

``protocol`` reads the test's data file (heelrise.toml), ``judge`` decides raise by
raise against the metronome and the best height, ``run`` drives the detector and the
judge over a stream (live, or a recording), ``outcomes`` turns a judged test into
reps, height, displacement, work and the symmetry between legs, ``metronome`` beats on
the buzzer, the LED and the terminal, and ``guided`` walks a person through both legs.
"""
