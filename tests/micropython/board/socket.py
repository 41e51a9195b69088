from usocket import *  # noqa: F401,F403 - the same fake under both names
