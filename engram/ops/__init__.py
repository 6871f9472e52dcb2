"""Operations tools of the ``engram`` command: ``diagnose`` (one report of what a runbook asks for)."""
