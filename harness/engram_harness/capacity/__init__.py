"""Capacity planning (workflow 111; the master's 113): ramps to the breaking point with stop rules,
knee detection, an automatic bottleneck classifier, profiles and flame graphs at the knee, and a
capacity model (memory per episode, throughput per core, a cores-and-memory table).

Modules: :mod:`ramp` (rates, stop rules, breaking point, knee, sustainable rate), :mod:`bottleneck`
(the classifier, a pure function), :mod:`procfs` and :mod:`metrics` (what /proc and /metrics say over
a window), :mod:`profiler` and :mod:`flamegraph` (perf or gdb samples, folded stacks, SVG),
:mod:`binary` (an engramd with symbols), :mod:`model` (fits and the table), :mod:`workload` (mixes,
steps over HTTP, the knee probe). The suite is acceptance/service_levels/test_111_capacity_planning.py.
"""
