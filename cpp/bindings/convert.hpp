// Conversions between Python values and the engine's types, shared by every register_*.cpp.
//
// One rule for every argument: the documented type, nothing coerced. An integer is a Python int
// or a NumPy integer (never bool, float or str); a number is an int or float, Python or NumPy
// (never bool, str or complex); a flag is True or False; text is str or UTF-8 bytes; a vector
// is a real-valued array or sequence of numbers (never bool, complex, str or object values).
// Every refusal is an engine error (InvalidInputError; DimensionError for a shape) whose message
// reads "<what> must be <expected>; got <received>"; the translator (errors.cpp) raises it as
// the class of the same name in engram.errors, so Python sees a ValueError, never a TypeError.
//
// Scalar and array arguments are declared with the wrappers at the end (Int<"k">,
// Real<"confidence">, Array, ...): pybind11 accepts any object for them and the method converts
// when it reads the value (`.get()`), so a refused argument counts in the operation's metrics
// like any other refusal, while the signature, and so the type stubs, show the documented type.
//
// Every function here needs the GIL.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>  // in every binding file: one set of STL casters
#include <pybind11/typing.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engram/memory.hpp"

namespace engram::bind {

namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// What was received, for error messages: "float 10.7", "bool True", "str '5'", "list".
std::string describe(py::handle obj);
std::string shape_text(const py::array& a);  // "(4, 512)", "(512,)"

// --- scalars ------------------------------------------------------------------------------
std::int64_t to_int64(py::handle obj, std::string_view what);
std::uint64_t to_uint64(py::handle obj, std::string_view what);  // non-negative
double to_double(py::handle obj, std::string_view what);
bool to_bool(py::handle obj, std::string_view what);
// str (valid UTF-8) or bytes; None is the empty string when none_is_empty, refused otherwise.
std::string to_text(py::handle obj, std::string_view what, bool none_is_empty = false);
std::string to_bytes(py::handle obj, std::string_view what);  // bytes or bytearray
// "<what> must be <expected>; got <describe(obj)>" as InvalidInputError.
[[noreturn]] void refuse_type(py::handle obj, std::string_view what, std::string_view expected);
[[noreturn]] void throw_out_of_range(py::handle obj, std::string_view what, const std::string& lo,
                                     const std::string& hi);

// An integer converted to T; one outside T's range is refused with the range in the message.
template <class T>
T to_integer(py::handle obj, std::string_view what) {
  if constexpr (std::is_signed_v<T>) {
    const std::int64_t v = to_int64(obj, what);
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
      throw_out_of_range(obj, what, std::to_string(std::numeric_limits<T>::min()),
                         std::to_string(std::numeric_limits<T>::max()));
    }
    return static_cast<T>(v);
  } else {
    const std::uint64_t v = to_uint64(obj, what);
    if (v > std::numeric_limits<T>::max()) {
      throw_out_of_range(obj, what, "0", std::to_string(std::numeric_limits<T>::max()));
    }
    return static_cast<T>(v);
  }
}

// A memory id of `space`: an integer (InvalidInputError otherwise). An integer outside int64
// names no memory, so it is MemoryNotFound, as for any other unknown id.
std::int64_t to_id(py::handle obj, const std::string& space);
// The id when obj is an integer within int64, nullopt for anything else (membership tests).
std::optional<std::int64_t> to_id_or_none(py::handle obj);

// --- containers ---------------------------------------------------------------------------
Metadata to_metadata(py::handle obj);  // a mapping of str to str; None is empty
// A sequence (not str or bytes) of exactly n items, or None; `what` names the column.
void check_column(py::handle obj, std::size_t n, std::string_view what);

// --- arrays -------------------------------------------------------------------------------
// A real-valued numeric array (integer or float dtype) of any shape, from an array or a nested
// sequence; `expected` says what was wanted, for the message ("a vector of numbers").
py::array to_numeric(py::handle obj, std::string_view what, std::string_view expected);
// A 1-D float32 vector of exactly dim values (DimensionError naming the shape otherwise).
FloatArray to_vector(py::handle obj, std::size_t dim, std::string_view what);
// A 2-D (n, dim) float32 array.
FloatArray to_matrix(py::handle obj, std::size_t dim, std::string_view what);
// A 1-D float32 vector of any length; NaN allowed (pattern completion's unknown dimensions).
FloatArray to_floats(py::handle obj, std::string_view what, std::string_view expected);
// A 1-D mask of booleans (or 0/1 integers) as bytes, 1 = set.
std::vector<std::uint8_t> to_mask(py::handle obj, std::string_view what, std::string_view expected);
// A sequence of ids of `space`, each checked as to_id does.
std::vector<std::int64_t> to_ids(py::handle obj, const std::string& space, std::string_view what);
std::vector<double> to_doubles(py::handle obj, std::string_view what);  // a sequence of numbers

// A C-contiguous array of T from a real-valued numeric array (the load executor's schedule).
template <class T>
py::array_t<T, py::array::c_style | py::array::forcecast> to_typed(py::handle obj, std::string_view what) {
  return py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(to_numeric(obj, what, "a numeric array"));
}

// --- results ------------------------------------------------------------------------------
template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}
py::typing::Dict<py::str, py::str> metadata_dict(const Metadata& md);

// --- argument wrappers --------------------------------------------------------------------
// A string literal as a template argument: the parameter's name in error messages.
template <std::size_t N>
struct Name {
  constexpr Name(const char (&s)[N]) { std::copy_n(s, N, text); }  // NOLINT(google-explicit-constructor)
  char text[N]{};
};

// Base of the wrappers: the caster below stores the argument's handle (alive for the call).
struct Deferred {
  py::handle obj;
};

template <Name N, class T = std::int64_t>
struct Int : Deferred {
  static constexpr auto py_name = py::detail::const_name("int");
  T get() const { return to_integer<T>(obj, N.text); }
};
template <Name N>
struct Real : Deferred {
  static constexpr auto py_name = py::detail::const_name("float");
  double get() const { return to_double(obj, N.text); }
};
template <Name N>
struct Flag : Deferred {
  static constexpr auto py_name = py::detail::const_name("bool");
  bool get() const { return to_bool(obj, N.text); }
};
template <Name N>
struct Text : Deferred {
  static constexpr auto py_name = py::detail::const_name("str");
  std::string get() const { return to_text(obj, N.text); }
};
// A memory id, checked against the space it addresses.
struct Id : Deferred {
  static constexpr auto py_name = py::detail::const_name("int");
  std::int64_t get(const std::string& space) const { return to_id(obj, space); }
};
// Converted by the method, which knows the expected shape or the items' meaning.
struct Array : Deferred {
  static constexpr auto py_name = py::detail::const_name("numpy.typing.ArrayLike");
};
struct Content : Deferred {
  static constexpr auto py_name = py::detail::const_name("str | bytes");
};
struct MetadataArg : Deferred {
  static constexpr auto py_name = py::detail::const_name("collections.abc.Mapping[str, str] | None");
};
// A column of a batch (one item per embedding, or None), shown in the stubs as Stub.
template <Name Stub>
struct Column : Deferred {
  static constexpr auto py_name = py::detail::const_name(Stub.text);
};
template <Name N>
struct Bytes : Deferred {
  static constexpr auto py_name = py::detail::const_name("bytes");
  std::string get() const { return to_bytes(obj, N.text); }
};
// A sequence of bound objects of class T (spaces for the load executor).
template <class T>
struct ObjectList : Deferred {
  static constexpr auto py_name = py::detail::const_name("collections.abc.Sequence[") +
                                  py::detail::make_caster<T>::name + py::detail::const_name("]");
  std::vector<T> get(std::string_view what, std::string_view expected) const {
    if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr()) || !PySequence_Check(obj.ptr())) {
      refuse_type(obj, what, expected);
    }
    std::vector<T> out;
    for (const py::handle item : py::reinterpret_borrow<py::sequence>(obj)) {
      py::detail::make_caster<T> caster;
      if (!caster.load(item, false)) refuse_type(item, what, expected);  // names the offending item
      out.push_back(py::detail::cast_op<T>(std::move(caster)));
    }
    return out;
  }
};
struct IdList : Deferred {
  static constexpr auto py_name = py::detail::const_name("collections.abc.Sequence[int]");
};
struct RealList : Deferred {
  static constexpr auto py_name = py::detail::const_name("collections.abc.Sequence[float]");
};

template <class W>
auto get(const std::optional<W>& w) -> std::optional<decltype(w->get())> {
  if (!w) return std::nullopt;
  return w->get();
}

}  // namespace engram::bind

namespace pybind11::detail {

template <class W>
struct type_caster<W, enable_if_t<std::is_base_of_v<engram::bind::Deferred, W>>> {
  PYBIND11_TYPE_CASTER(W, W::py_name);
  bool load(handle src, bool /*convert*/) {
    value.obj = src;
    return true;
  }
};

}  // namespace pybind11::detail
