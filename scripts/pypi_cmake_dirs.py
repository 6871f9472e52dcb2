"""Print ``TBB_DIR=...`` and ``Eigen3_DIR=...`` for the CMake packages that PyPI's ``tbb-devel`` and
``cmeel-eigen`` installed into this Python's environment (one per line; nothing when absent).

Called by CMakeLists.txt in pip builds: pip's isolated build environment is not a virtual
environment (it is put on ``sys.path``), so the packages' data folders are found through their
installed file lists rather than through ``sys.prefix``."""

from __future__ import annotations

from importlib import metadata

WANTED = {"tbb-devel": ("TBB_DIR", "TBBConfig.cmake"), "cmeel-eigen": ("Eigen3_DIR", "Eigen3Config.cmake")}

for dist_name, (variable, config) in WANTED.items():
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        continue
    for f in dist.files or []:
        if f.name == config:
            print(f"{variable}={dist.locate_file(f).resolve().parent}")
            break
