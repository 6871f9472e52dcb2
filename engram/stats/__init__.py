"""Statistics for Engram's acceptance and performance suites (pure Python: numpy + scipy).

Nothing here imports the engine; every function works on plain arrays.
"""
