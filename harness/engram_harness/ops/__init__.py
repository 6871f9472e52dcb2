"""Operations tooling for the operations workflows: Prometheus and Alertmanager (monitoring)."""
