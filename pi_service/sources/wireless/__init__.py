"""The wireless clip-on on the Pi's side: its frame format, its clock, and the source.

``frame`` is shared with the firmware (plain Python, MicroPython too); ``clock`` maps
the sensor's clock to the Pi's; ``source`` turns frames from the broker into sample
blocks. The clip-on's topics are in :mod:`pi_service.topics` and the schema of its status
in :mod:`pi_service.payloads`, with everything else that crosses MQTT.
"""
