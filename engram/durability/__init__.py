"""Durable stores: opening with recovery, backup, restore and offline verification.

The write-ahead log, checkpoints and recovery are in C++ (``cpp/include/engram/wal.hpp``,
``store.hpp``); this package holds the Python side: settings and logging of recovery
(``store``), hot backups with SHA-256 manifests (``backup``), point-in-time restore
(``restore``), offline checks (``verify``) and content digests (``digest``). Import the
submodules directly; this package imports nothing so ``engram.engine`` can use ``store``.
"""
