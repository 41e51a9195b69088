"""The training log: every set published over MQTT, kept once, and what it means.

``store`` (SQLite, exactly once per id), ``subscriber`` (``heelraise log``),
``progression`` (coaching rules from ``progression.toml``), ``aggregates`` (retained
summaries under ``heelraise/log/<device>/``), ``homeassistant`` (MQTT discovery),
``export`` (CSV / JSON) and ``commands`` (the CLI pairs ``cli.py`` registers).
"""
