// Conversions between Python values and engine types (convert.hpp).
#include "convert.hpp"

#include <pybind11/gil_safe_call_once.h>

#include <sstream>
#include <utility>

#include "engram/errors.hpp"
#include "engram/validation.hpp"

namespace engram::bind {

namespace {

std::string type_name(py::handle obj) { return py::str(py::type::of(obj).attr("__name__")); }

// A Python object looked up once per process and kept for its lifetime.
template <class F>
const py::object& cached(py::gil_safe_call_once_and_store<py::object>& store, F&& lookup) {
  return store.call_once_and_store_result(std::forward<F>(lookup)).get_stored();
}

const py::object& numpy_generic() {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> store;
  return cached(store, [] { return py::module_::import("numpy").attr("generic"); });
}

const py::object& numpy_asarray() {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> store;
  return cached(store, [] { return py::module_::import("numpy").attr("asarray"); });
}

const py::object& abc_mapping() {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> store;
  return cached(store, [] { return py::module_::import("collections.abc").attr("Mapping"); });
}

// The dtype kind of a NumPy scalar or 0-d array ('b', 'i', 'u', 'f', 'c', 'U', ...); 0 for any
// other object.
char numpy_scalar_kind(py::handle obj) {
  const bool scalar = py::isinstance(obj, numpy_generic());
  if (!scalar && !(py::isinstance<py::array>(obj) && py::reinterpret_borrow<py::array>(obj).ndim() == 0)) return 0;
  return py::str(obj.attr("dtype").attr("kind")).cast<std::string>()[0];
}

bool is_bool(py::handle obj) { return PyBool_Check(obj.ptr()) || numpy_scalar_kind(obj) == 'b'; }

// Python int, NumPy integer scalar or 0-d integer array; never bool.
bool is_integer(py::handle obj) {
  if (PyBool_Check(obj.ptr())) return false;
  if (PyLong_Check(obj.ptr())) return true;
  const char kind = numpy_scalar_kind(obj);
  return kind == 'i' || kind == 'u';
}

bool is_real(py::handle obj) {
  if (PyBool_Check(obj.ptr())) return false;
  if (PyLong_Check(obj.ptr()) || PyFloat_Check(obj.ptr())) return true;
  const char kind = numpy_scalar_kind(obj);
  return kind == 'i' || kind == 'u' || kind == 'f';
}

// The integer as a Python int (NumPy integers through __index__).
py::int_ as_pyint(py::handle obj) { return py::reinterpret_steal<py::int_>(PyNumber_Index(obj.ptr())); }

[[noreturn]] void refuse(std::string_view what, std::string_view expected, py::handle obj) {
  throw InvalidInputError(std::string(what) + " must be " + std::string(expected) + "; got " + describe(obj));
}

std::string dtype_text(const py::array& a) {
  const char kind = a.dtype().kind();
  switch (kind) {
    case 'b': return "bool";
    case 'c': return "complex";
    case 'U':
    case 'S': return "str";
    case 'O': return "object";
    case 'M':
    case 'm': return "datetime";
    default: return py::str(a.dtype()).cast<std::string>();
  }
}

// The first bool in a list or tuple (nested one level, as a batch of rows): NumPy turns
// [True, 0.5] into floats, so a bool among numbers is found only by looking.
std::optional<std::string> find_bool(py::handle obj, int depth) {
  if (!PyList_Check(obj.ptr()) && !PyTuple_Check(obj.ptr())) return std::nullopt;
  const py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
  const std::size_t n = seq.size();
  for (std::size_t i = 0; i < n; ++i) {
    const py::object item = seq[i];
    if (is_bool(item)) return "bool at index " + std::to_string(i);
    if (py::isinstance<py::array>(item) && py::reinterpret_borrow<py::array>(item).dtype().kind() == 'b') {
      return "an array of bool at index " + std::to_string(i);
    }
    if (depth > 0) {
      if (auto inner = find_bool(item, depth - 1)) return *inner + " of row " + std::to_string(i);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string describe(py::handle obj) {
  if (obj.is_none()) return "None";
  if (py::isinstance<py::array>(obj)) {
    const auto a = py::reinterpret_borrow<py::array>(obj);
    return "an array of " + dtype_text(a) + " with shape " + shape_text(a);
  }
  const std::string type = type_name(obj);
  if (PyLong_Check(obj.ptr()) || PyFloat_Check(obj.ptr()) || PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr()) ||
      PyComplex_Check(obj.ptr()) || py::isinstance(obj, numpy_generic())) {
    return type + " " + preview(py::repr(obj).cast<std::string>(), 60);
  }
  return type;
}

std::string shape_text(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << a.shape(i) << (a.ndim() == 1 ? "," : (i + 1 < a.ndim() ? ", " : ""));
  s << ")";
  return s.str();
}

void throw_out_of_range(py::handle obj, std::string_view what, const std::string& lo, const std::string& hi) {
  throw InvalidInputError(std::string(what) + " must be an integer from " + lo + " to " + hi + "; got " +
                          preview(py::repr(as_pyint(obj)).cast<std::string>(), 60));
}

std::int64_t to_int64(py::handle obj, std::string_view what) {
  if (!is_integer(obj)) refuse(what, "an integer", obj);
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(as_pyint(obj).ptr(), &overflow);
  if (overflow != 0) {
    throw_out_of_range(obj, what, std::to_string(std::numeric_limits<std::int64_t>::min()),
                       std::to_string(std::numeric_limits<std::int64_t>::max()));
  }
  return static_cast<std::int64_t>(v);
}

std::uint64_t to_uint64(py::handle obj, std::string_view what) {
  if (!is_integer(obj)) refuse(what, "an integer", obj);
  const py::int_ v = as_pyint(obj);
  const unsigned long long u = PyLong_AsUnsignedLongLong(v.ptr());
  if (u == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {  // negative or above 2**64 - 1
    PyErr_Clear();
    throw_out_of_range(obj, what, "0", std::to_string(std::numeric_limits<std::uint64_t>::max()));
  }
  return static_cast<std::uint64_t>(u);
}

double to_double(py::handle obj, std::string_view what) {
  if (!is_real(obj)) refuse(what, "a number", obj);
  const double v = PyFloat_AsDouble(obj.ptr());
  if (v == -1.0 && PyErr_Occurred()) {  // an int too large for a double
    PyErr_Clear();
    refuse(what, "a number within the range of a double", obj);
  }
  return v;
}

bool to_bool(py::handle obj, std::string_view what) {
  if (!is_bool(obj)) refuse(what, "True or False", obj);
  return PyObject_IsTrue(obj.ptr()) == 1;
}

std::string to_text(py::handle obj, std::string_view what, bool none_is_empty) {
  if (obj.is_none() && none_is_empty) return {};
  if (PyUnicode_Check(obj.ptr())) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(obj.ptr(), &size);
    if (data == nullptr) {
      PyErr_Clear();
      throw InvalidInputError(std::string(what) + " is not valid UTF-8 (it contains lone surrogates); expected text");
    }
    return std::string(data, static_cast<std::size_t>(size));
  }
  if (PyBytes_Check(obj.ptr())) return std::string(py::reinterpret_borrow<py::bytes>(obj));
  refuse(what, "str or UTF-8 bytes", obj);
}

std::string to_bytes(py::handle obj, std::string_view what) {
  if (PyBytes_Check(obj.ptr())) return std::string(py::reinterpret_borrow<py::bytes>(obj));
  if (PyByteArray_Check(obj.ptr())) {
    return std::string(PyByteArray_AsString(obj.ptr()), static_cast<std::size_t>(PyByteArray_Size(obj.ptr())));
  }
  refuse(what, "bytes", obj);
}

void refuse_type(py::handle obj, std::string_view what, std::string_view expected) { refuse(what, expected, obj); }

std::int64_t to_id(py::handle obj, const std::string& space) {
  if (!is_integer(obj)) refuse("a memory id", "an integer", obj);
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(as_pyint(obj).ptr(), &overflow);
  if (overflow != 0) {
    throw MemoryNotFound("no memory with id " + preview(py::repr(as_pyint(obj)).cast<std::string>(), 60) +
                         " in space '" + space + "'; ids are 64-bit signed integers");
  }
  return static_cast<std::int64_t>(v);
}

std::optional<std::int64_t> to_id_or_none(py::handle obj) {
  if (!is_integer(obj)) return std::nullopt;
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(as_pyint(obj).ptr(), &overflow);
  if (overflow != 0) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

Metadata to_metadata(py::handle obj) {
  Metadata md;
  if (obj.is_none()) return md;
  if (!py::isinstance(obj, abc_mapping())) refuse("metadata", "a mapping of str to str", obj);
  const py::dict d = py::isinstance<py::dict>(obj) ? py::reinterpret_borrow<py::dict>(obj)
                                                   : py::dict(py::reinterpret_borrow<py::object>(obj));
  for (const auto& [k, v] : d) {
    if (!PyUnicode_Check(k.ptr()) || !PyUnicode_Check(v.ptr())) {
      throw InvalidInputError("metadata keys and values must be str; got " + type_name(k) + " -> " + type_name(v));
    }
    md.emplace_back(to_text(k, "metadata key"), to_text(v, "metadata value"));
  }
  return md;
}

void check_column(py::handle obj, std::size_t n, std::string_view what) {
  if (obj.is_none()) return;
  // A lone string is a sequence of characters, never one item per embedding.
  if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr())) {
    throw InvalidInputError(std::string(what) + " must be a sequence with one item per embedding (" +
                            std::to_string(n) + "); got a single " + type_name(obj));
  }
  if (!PySequence_Check(obj.ptr())) {
    refuse(what, "a sequence with one item per embedding (" + std::to_string(n) + ")", obj);
  }
  const std::size_t len = py::len(obj);
  if (len != n) {
    throw InvalidInputError(std::string(what) + " has " + std::to_string(len) + " items; expected one per embedding (" +
                            std::to_string(n) + ")");
  }
}

py::array to_numeric(py::handle obj, std::string_view what, std::string_view expected) {
  if (obj.is_none()) throw InvalidInputError(std::string(what) + " is missing; expected " + std::string(expected));
  if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr())) refuse(what, expected, obj);
  py::array arr;
  if (py::isinstance<py::array>(obj)) {
    arr = py::reinterpret_borrow<py::array>(obj);
  } else {
    if (auto where = find_bool(obj, 1)) {
      throw InvalidInputError(std::string(what) + " must be " + std::string(expected) + "; got " + *where);
    }
    try {
      arr = numpy_asarray()(obj);
    } catch (const py::error_already_set& e) {  // ragged rows, objects NumPy cannot hold
      throw InvalidInputError(std::string(what) + " must be " + std::string(expected) + "; got " + describe(obj) +
                              " that NumPy cannot read as one array (" + preview(e.what(), 120) + ")");
    }
    if (arr.dtype().kind() == 'O') {
      if (arr.ndim() == 0) refuse(what, expected, obj);  // a dict, an object: not a sequence at all
      throw InvalidInputError(std::string(what) + " must be " + std::string(expected) + "; got " + describe(obj) +
                              " holding non-numeric values");
    }
  }
  const char kind = arr.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u') {
    const bool given_array = py::isinstance<py::array>(obj);
    throw InvalidInputError(std::string(what) + " must be " + std::string(expected) + "; got " +
                            (given_array ? "an array of " + dtype_text(arr) : dtype_text(arr) + " values"));
  }
  return arr;
}

FloatArray to_vector(py::handle obj, std::size_t dim, std::string_view what) {
  const FloatArray arr = FloatArray::ensure(to_numeric(obj, what, "a vector of numbers"));
  if (arr.ndim() != 1 || static_cast<std::size_t>(arr.shape(0)) != dim) {
    throw DimensionError("expected " + dimensional(dim) + " float32 " + std::string(what) + ", got shape " +
                         shape_text(arr));
  }
  return arr;
}

FloatArray to_matrix(py::handle obj, std::size_t dim, std::string_view what) {
  const FloatArray arr = FloatArray::ensure(to_numeric(obj, what, "an (n, dim) array of numbers"));
  if (arr.ndim() != 2 || static_cast<std::size_t>(arr.shape(1)) != dim) {
    throw DimensionError("expected an (n, " + std::to_string(dim) + ") float32 array of " + std::string(what) +
                         ", got shape " + shape_text(arr));
  }
  return arr;
}

FloatArray to_floats(py::handle obj, std::string_view what, std::string_view expected) {
  const FloatArray arr = FloatArray::ensure(to_numeric(obj, what, expected));
  if (arr.ndim() != 1) throw DimensionError(std::string(what) + " must be 1-D; got shape " + shape_text(arr));
  return arr;
}

std::vector<std::uint8_t> to_mask(py::handle obj, std::string_view what, std::string_view expected) {
  if (obj.is_none()) throw InvalidInputError(std::string(what) + " is missing; expected " + std::string(expected));
  py::array arr;
  if (py::isinstance<py::array>(obj)) {
    arr = py::reinterpret_borrow<py::array>(obj);
  } else {
    if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr())) refuse(what, expected, obj);
    try {
      arr = numpy_asarray()(obj);
    } catch (const py::error_already_set&) {
      refuse(what, expected, obj);
    }
  }
  const char kind = arr.dtype().kind();
  if (kind != 'b' && kind != 'i' && kind != 'u') {
    throw InvalidInputError(std::string(what) + " must be " + std::string(expected) + "; got an array of " +
                            dtype_text(arr));
  }
  const auto b = py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(arr);
  if (b.ndim() != 1) throw DimensionError(std::string(what) + " must be 1-D; got shape " + shape_text(b));
  std::vector<std::uint8_t> out(static_cast<std::size_t>(b.shape(0)));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = b.data()[i] ? 1 : 0;
  return out;
}

std::vector<std::int64_t> to_ids(py::handle obj, const std::string& space, std::string_view what) {
  if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr()) || !PySequence_Check(obj.ptr())) {
    refuse(what, "a sequence of memory ids", obj);
  }
  const py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
  std::vector<std::int64_t> out;
  out.reserve(seq.size());
  for (const py::handle item : seq) out.push_back(to_id(item, space));
  return out;
}

std::vector<double> to_doubles(py::handle obj, std::string_view what) {
  if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr()) || !PySequence_Check(obj.ptr())) {
    refuse(what, "a sequence of numbers", obj);
  }
  const py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
  std::vector<double> out;
  out.reserve(seq.size());
  for (const py::handle item : seq) out.push_back(to_double(item, what));
  return out;
}

py::typing::Dict<py::str, py::str> metadata_dict(const Metadata& md) {
  py::typing::Dict<py::str, py::str> d;
  for (const auto& [k, v] : md) d[py::str(k)] = py::str(v);
  return d;
}

}  // namespace engram::bind
