// What the bridge's own files share: process-wide state, the GIL guard, and the pieces of the
// OVTFCluster kernel that the fast path and the Python module reach into. Internal: nothing
// here is part of TensorFlow's or Python's view of the library.
//
// The one shared library `ovtf._native` is both a Python extension (pybind11) and a
// TensorFlow pluggable-device library: Python imports it, then hands its own path to
// `load_pluggable_device_library`, which dlopens the same file (same handle, same globals)
// and calls TF_InitGraph. Only TensorFlow's C headers are used and no TensorFlow library is
// linked: the symbols resolve against the libraries `import tensorflow` has already loaded.
// TensorFlow >= 2.19 loads them RTLD_GLOBAL; 2.16-2.18 load them RTLD_LOCAL, so
// ovtf/_compat.py promotes the loaded libtensorflow_cc.so.2 / libtensorflow_framework.so.2 to
// global scope (RTLD_NOLOAD | RTLD_GLOBAL) after importing TensorFlow and before this module
// is imported.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>  // here, so every file converts std::vector the same way

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensorflow/c/experimental/grappler/grappler.h"
#include "tensorflow/c/kernels.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"

#include "openvino_runtime.h"

namespace ovtf_bridge {

namespace py = pybind11;

// ---------------------------------------------------------------------------------------
// Process-wide state. Python callbacks are raw PyObject* on purpose: they are only touched
// with the GIL held, and are never destroyed at process exit (when there may be no
// interpreter left).
// ---------------------------------------------------------------------------------------

// grappler_plugin.cc
extern PyObject* g_rewriter;  // (graph: bytes, fetch: list, preserve: list) -> bytes|None
extern TF_TriState g_remapping;  // fixed when TensorFlow calls TF_InitGraph (process-wide)
extern std::atomic<bool> g_plugin_initialized;
extern std::atomic<long> g_optimizer_calls;

// cluster_kernel.cc
extern PyObject* g_cluster_factory;  // (name, graph: bytes, tin, tout, backend) -> handle
extern std::unordered_map<int, PyObject*> g_numpy_dtypes;  // TF_DataType -> numpy dtype
// Set while this thread runs a cluster's TensorFlow fallback: graphs built for it must not
// be rewritten again (that would recurse forever).
extern thread_local bool t_in_fallback;

// Holds the GIL for a scope, on any thread. TF's threads are not Python threads: the first
// time one of them needs Python it gets a thread state that it keeps (with the GIL
// released), so later kernel calls don't allocate and free one each time.
class PythonLock {
 public:
  PythonLock() {
    thread_local bool has_thread_state = false;
    if (!has_thread_state) {
      has_thread_state = true;
      if (PyGILState_GetThisThreadState() == nullptr) {
        PyGILState_Ensure();
        PyEval_SaveThread();
      }
    }
    state_ = PyGILState_Ensure();
  }
  ~PythonLock() { PyGILState_Release(state_); }
  PythonLock(const PythonLock&) = delete;
  PythonLock& operator=(const PythonLock&) = delete;

 private:
  PyGILState_STATE state_;
};

struct StatusDeleter {
  void operator()(TF_Status* status) const { TF_DeleteStatus(status); }
};
using StatusPtr = std::unique_ptr<TF_Status, StatusDeleter>;
inline StatusPtr new_status() { return StatusPtr(TF_NewStatus()); }

// ---------------------------------------------------------------------------------------
// The OVTFCluster kernel (cluster_kernel.cc)
// ---------------------------------------------------------------------------------------

struct Ticket;  // fast_path.cc

struct ClusterKernel {
  std::string name;
  std::vector<TF_DataType> input_types;
  std::vector<TF_DataType> output_types;
  PyObject* handle = nullptr;  // Python object with run(inputs, outputs) and fallback(...)
  std::mutex ticket_mutex;
  std::shared_ptr<Ticket> ticket;  // the fast path's repeatable run, or none
};

// The `outputs` object Python writes results into: each output is a TF-allocated tensor.
// One sink serves a whole kernel call, the device attempt and then any fallback: an output
// the device allocated before failing is handed to the fallback again (TF allows one
// allocation per output). Python may keep a reference to it; once the call is over the
// sink is closed and refuses to allocate.
class OutputSink {
 public:
  OutputSink(TF_OpKernelContext* ctx, const std::vector<TF_DataType>* types, std::string cluster);

  py::array allocate(int index, const std::vector<int64_t>& shape);
  int missing_output();  // the first output not allocated, or -1
  int size() const { return static_cast<int>(types_->size()); }

  // Python's promise, after a device run: "calls with these inputs may repeat that run on
  // `model` without asking me" (fast_path.cc).
  struct Repeat {
    std::shared_ptr<ovtf_openvino::Model> model;
    std::vector<int> parameter_inputs, weight_inputs, value_inputs;
    int rows_input = -1;
    std::string backend;  // whose counters its calls add to
  };
  void arm(std::shared_ptr<ovtf_openvino::Model> model, std::vector<int> parameter_inputs,
           std::vector<int> weight_inputs, std::vector<int> value_inputs, int rows_input,
           std::string backend);
  std::unique_ptr<Repeat> take_repeat();
  void close();

 private:
  std::mutex mutex_;
  TF_OpKernelContext* ctx_;
  const std::vector<TF_DataType>* types_;
  std::string cluster_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<bool> allocated_;
  std::unique_ptr<Repeat> repeat_;
};

// The kernel's inputs as TF_Tensors, deleted with the object.
class InputTensors {
 public:
  explicit InputTensors(TF_OpKernelContext* ctx);
  ~InputTensors() { clear(); }
  InputTensors(const InputTensors&) = delete;
  InputTensors& operator=(const InputTensors&) = delete;
  bool ok() const { return ok_; }
  // Deletes every tensor; size() is unchanged, each entry is then null.
  void clear();
  size_t size() const { return tensors_.size(); }
  TF_Tensor* operator[](size_t i) const { return tensors_[i]; }
  TF_Tensor* release(size_t i) {
    TF_Tensor* tensor = tensors_[i];
    tensors_[i] = nullptr;
    return tensor;
  }

 private:
  std::vector<TF_Tensor*> tensors_;
  bool ok_ = true;
};

// Sets the kernel's status to an error naming the cluster.
void fail(TF_OpKernelContext* ctx, const std::string& cluster, const std::string& message,
          TF_Code code = TF_INTERNAL);

// Registration with TensorFlow (idempotent; throw with TensorFlow's message if refused).
void register_cluster_op();
void register_ovtf2_cluster_op();

// Finish queued fallbacks and stop the workers (Python's atexit, before the interpreter goes).
void shutdown_fallback_pool();

// ---------------------------------------------------------------------------------------
// The fast path (fast_path.cc)
// ---------------------------------------------------------------------------------------

// Bumped by a settings change: a ticket armed under an older epoch is void.
uint64_t fast_path_epoch();
void invalidate_fast_paths();

// True: the call is done here (outputs written, or the kernel failed with TF's own error).
// False: it must go the Python way (nothing was allocated).
bool run_fast(ClusterKernel* kernel, TF_OpKernelContext* ctx);

// After a successful Python-way call armed at `epoch`: later matching calls repeat it.
void arm(ClusterKernel* kernel, TF_OpKernelContext* ctx, OutputSink::Repeat& repeat,
         uint64_t epoch);

struct FastPathCount {
  std::string backend;
  uint64_t calls, rows;
  double seconds;
};
std::vector<FastPathCount> fast_path_counts();
void reset_fast_path_counts();

}  // namespace ovtf_bridge
