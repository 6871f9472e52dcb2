"""Fraud detection over a transaction graph stored in the engine (workflow 103).

- :mod:`.store`: write accounts, merchants and transactions (episodes) with their links.
- :mod:`.reader`: read an account's transactions back from the engine (neighbors + get).
- :mod:`.graph_patterns`: multi-hop matching of money rings and mule chains from an account.
- :mod:`.account_rules`: velocity windows, structuring, impossible travel, account takeover.
- :mod:`.signature`: pattern signatures, the library of detected patterns and completion.
"""
