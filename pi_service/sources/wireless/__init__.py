"""The wireless clip-on on the Pi's side: its frame format, its topics, and the source.

``frame`` is shared with the firmware (plain Python, MicroPython too); ``topics``
names what the clip-on publishes; ``clock`` maps the sensor's clock to the Pi's;
``source`` turns frames from the broker into sample blocks.
"""
