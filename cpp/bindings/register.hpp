// The parts of engram._core, one function per area, called in this order by module.cpp.
// Classes are registered before the methods that take or return them, so every signature (and
// the type stubs generated from them) names the Python class, never a C++ type.
#pragma once

#include <pybind11/pybind11.h>

namespace engram::bind {

void register_errors(pybind11::module_& m);      // errors.cpp: engine errors -> engram.errors
void register_simd(pybind11::module_& m);        // register_simd.cpp: kernel levels, dot
void register_space(pybind11::module_& m);       // register_space.cpp: Space, memories, search
void register_engine(pybind11::module_& m);      // register_engine.cpp: Engine, spaces, clock, metrics
void register_graph(pybind11::module_& m);       // register_graph.cpp: edges, spreading, decay
void register_recall(pybind11::module_& m);      // register_recall.cpp: concepts, recall, completion
void register_durability(pybind11::module_& m);  // register_durability.cpp: stores, WAL, checkpoints
void register_faults(pybind11::module_& m);      // register_faults.cpp: build flavour; fault injection (test build)
void register_load(pybind11::module_& m);        // register_load.cpp: the in-process load executor

}  // namespace engram::bind
