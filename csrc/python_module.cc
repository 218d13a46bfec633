// The Python module `ovtf._native` (pybind11): what ovtf's Python code calls to install its
// callbacks, register the cluster op, compile and run OpenVINO models through the C API
// (openvino_runtime.h), and read the fast path's counts.


#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bridge.h"

namespace ovtf_bridge {
namespace {

void replace_callback(PyObject** slot, py::object value) {
  PyObject* old = *slot;
  *slot = value.is_none() ? nullptr : value.release().ptr();
  Py_XDECREF(old);
}

// The Python way's device call for a model the fast path can also run: `inputs` are numpy
// arrays (the kernel's views), `parameter_inputs` the ones the model takes, in order; output
// i goes into `outputs.allocate(i, shape)` (any sink: the kernel's, SPLIT's, a test's).
void run_model(ovtf_openvino::Model& model, py::list inputs,
               const std::vector<int>& parameter_inputs, py::object outputs) {
  py::module_ numpy = py::module_::import("numpy");
  std::vector<py::array> arrays;
  std::vector<ovtf_openvino::HostTensor> host;
  for (int index : parameter_inputs) {
    py::array array = numpy.attr("asarray")(inputs[static_cast<size_t>(index)], py::arg("order") = "C");
    std::vector<int64_t> dims(array.shape(), array.shape() + array.ndim());
    size_t bytes = static_cast<size_t>(array.nbytes());
    host.push_back({const_cast<void*>(array.data()), dims, bytes});
    arrays.push_back(std::move(array));
  }
  py::gil_scoped_release release;
  model.infer(host, [&](const std::vector<ovtf_openvino::OutputTensor>& results) {
    py::gil_scoped_acquire acquire;
    try {
      py::object allocate = outputs.attr("allocate");
      for (size_t i = 0; i < results.size(); ++i) {
        py::array target = allocate(static_cast<int>(i), results[i].dims);
        if (static_cast<size_t>(target.nbytes()) != results[i].bytes ||
            !(target.flags() & py::array::c_style) || !target.writeable()) {
          throw std::runtime_error("output " + std::to_string(i) + ": the model gives " +
                                   std::to_string(results[i].bytes) + " bytes, TF's output " +
                                   "has " + std::to_string(target.nbytes()));
        }
        if (results[i].bytes) std::memcpy(target.mutable_data(), results[i].data, results[i].bytes);
      }
    } catch (py::error_already_set& error) {
      throw std::runtime_error(error.what());
    }
  });
}

TF_TriState to_tristate(py::object value) {
  if (value.is_none()) return TF_TriState_Default;
  return value.cast<bool>() ? TF_TriState_On : TF_TriState_Off;
}

}  // namespace
}  // namespace ovtf_bridge

using namespace ovtf_bridge;

PYBIND11_MODULE(_native, m) {
  m.doc() = "ovtf's native bridge to TensorFlow (grappler plugin + OVTFCluster kernel)";

  py::class_<OutputSink, std::shared_ptr<OutputSink>>(m, "OutputSink",
                         "Where a cluster writes its results: TF-allocated output tensors.")
      .def("allocate", &OutputSink::allocate, py::arg("index"), py::arg("shape"),
           "Allocate output `index` with `shape`; returns a writable numpy view of it "
           "(allocating an output again with the same shape returns the same buffer).")
      .def("__len__", &OutputSink::size)
      .def("arm", &OutputSink::arm, py::arg("model"), py::arg("parameter_inputs"),
           py::arg("weight_inputs"), py::arg("value_inputs"), py::arg("rows_input"),
           py::arg("backend"),
           "After a device run: let the kernel repeat it on `model` for matching inputs.");

  py::class_<ovtf_openvino::Model, std::shared_ptr<ovtf_openvino::Model>>(
      m, "OpenVINOModel", "A compiled cluster driven through OpenVINO's C API (openvino_runtime.h).")
      .def_static(
          "compile",
          [](const std::string& xml, const std::string& bin, const std::string& device,
             const ovtf_openvino::Properties& properties) {
            py::gil_scoped_release release;
            return ovtf_openvino::Model::compile(xml, bin, device, properties);
          },
          py::arg("xml"), py::arg("bin"), py::arg("device"), py::arg("properties"),
          "Read the IR files and compile them for `device` with (key, value) properties.")
      .def_static(
          "import_model",
          [](py::bytes blob, const std::string& device, const ovtf_openvino::Properties& properties) {
            std::string_view content = blob;  // no copy: `blob` is referenced for the call
            py::gil_scoped_release release;
            return ovtf_openvino::Model::import(content, device, properties);
          },
          py::arg("blob"), py::arg("device"), py::arg("properties"),
          "Import an exported compiled model; fails unless it reports exactly `properties`.")
      .def(
          "export_model",
          [](const ovtf_openvino::Model& model, const std::string& path) {
            py::gil_scoped_release release;
            model.export_to(path);
          },
          py::arg("path"), "Write the compiled model to `path` (what import_model reads).")
      .def("run", &run_model, py::arg("inputs"), py::arg("parameter_inputs"), py::arg("outputs"))
      .def("retire", &ovtf_openvino::Model::retire,
           "Kernels stop running it on their fast path (it left ovtf's cache).")
      .def_property_readonly("num_inputs", &ovtf_openvino::Model::num_inputs)
      .def_property_readonly("num_outputs", &ovtf_openvino::Model::num_outputs);
  m.def("load_openvino", &ovtf_openvino::load, py::arg("path"),
        "Load OpenVINO's C API library (libopenvino_c); returns OpenVINO's version.");
  m.def("fast_path_counts", []() {
    py::list result;
    for (const FastPathCount& count : fast_path_counts())
      result.append(py::make_tuple(count.backend, count.calls, count.rows, count.seconds));
    return result;
  }, "[(backend name, calls, rows, seconds)] run on kernels' fast paths.");
  m.def("reset_fast_path_counts", &reset_fast_path_counts);
  m.def("invalidate_fast_paths", &invalidate_fast_paths,
        "Every armed kernel goes the Python way at its next call (settings changed).");
  m.def("register_cluster_op", &register_cluster_op,
        "Register the OVTFCluster op and its CPU kernel with TensorFlow (idempotent).");
  m.def("register_ovtf2_cluster_op", &register_ovtf2_cluster_op,
        "Register OVTF 2.x's _nGraphEncapsulate op (idempotent), so its saved graphs import.");
  m.def("set_callbacks",
        [](py::object rewriter, py::object cluster_factory) {
          replace_callback(&g_rewriter, rewriter);
          replace_callback(&g_cluster_factory, cluster_factory);
        },
        py::arg("rewriter"), py::arg("cluster_factory"));
  m.def("get_callbacks", []() {
    auto get = [](PyObject* p) { return p ? py::reinterpret_borrow<py::object>(p) : py::none(); };
    return py::make_tuple(get(g_rewriter), get(g_cluster_factory));
  });
  m.def("set_numpy_dtypes",
        [](py::dict table) {
          for (auto item : table) {
            int key = item.first.cast<int>();
            PyObject* dtype = py::dtype::from_args(py::reinterpret_borrow<py::object>(item.second))
                                  .release()
                                  .ptr();
            auto it = g_numpy_dtypes.find(key);
            if (it != g_numpy_dtypes.end()) Py_DECREF(it->second);
            g_numpy_dtypes[key] = dtype;
          }
        },
        "Map TF DataType enums to numpy dtypes for tensor views.");
  m.def("set_optimizer_options",
        [](py::object remapping) {
          if (g_plugin_initialized.load())
            throw std::runtime_error("optimizer options are fixed once the plugin is loaded");
          g_remapping = to_tristate(remapping);
        },
        py::arg("remapping") = py::none(),
        "Grappler settings applied when TensorFlow loads the plugin (process-wide).");
  m.def("plugin_initialized", []() { return g_plugin_initialized.load(); });
  m.def("optimizer_calls", []() { return g_optimizer_calls.load(); });
  m.def("in_fallback", []() { return t_in_fallback; },
        "True on a thread that is running a cluster's TensorFlow fallback.");
  m.def("shutdown", []() {
    ovtf_openvino::leave_to_exit();
    py::gil_scoped_release release;
    shutdown_fallback_pool();
  });
}
