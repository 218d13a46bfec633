// ovtf._native: the bridge between TensorFlow's C API and ovtf's Python code.
//
// This one shared library is both a Python extension (pybind11) and a TensorFlow
// pluggable-device library: Python imports it, then hands its own path to
// `load_pluggable_device_library`, which dlopens the same file (same handle, same globals)
// and calls TF_InitGraph. It contains:
//
//   * a grappler plugin optimizer for the CPU device that passes each serialized GraphDef,
//     with its fetch and preserve lists, to a Python rewriter (None = unchanged);
//   * the `OVTFCluster` op and its CPU kernel. The kernel is asynchronous in "hybrid" mode:
//     the device fast path runs inline (Python gets zero-copy numpy views of the inputs and
//     writes results into TF-allocated outputs); when Python asks for fallback, the work moves
//     to a small native worker pool that runs the original subgraph with TensorFlow, so the
//     inter-op pool is never blocked waiting for TensorFlow (which would deadlock).
//
// Only TensorFlow's C headers are used and no TensorFlow library is linked: the symbols
// resolve against the libraries `import tensorflow` has already loaded. TensorFlow >= 2.19
// loads them RTLD_GLOBAL; 2.16-2.18 load them RTLD_LOCAL, so ovtf/_compat.py promotes the
// loaded libtensorflow_cc.so.2 / libtensorflow_framework.so.2 to global scope (RTLD_NOLOAD |
// RTLD_GLOBAL) after importing TensorFlow and before this module is imported.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tensorflow/c/experimental/grappler/grappler.h"
#include "tensorflow/c/kernels.h"
#include "tensorflow/c/ops.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"

#include "openvino_runtime.h"

namespace py = pybind11;

namespace {

constexpr const char* kClusterOp = "OVTFCluster";

// ---------------------------------------------------------------------------------------
// Python-side callbacks. Raw PyObject* on purpose: they are only touched with the GIL held,
// and are never destroyed at process exit (when there may be no interpreter left).
// ---------------------------------------------------------------------------------------

PyObject* g_rewriter = nullptr;         // (graph: bytes, fetch: list, preserve: list) -> bytes|None
PyObject* g_cluster_factory = nullptr;  // (name, graph: bytes, tin, tout, backend) -> handle
std::unordered_map<int, PyObject*> g_numpy_dtypes;  // TF_DataType -> numpy dtype

// Plugin optimizer settings, fixed when TensorFlow calls TF_InitGraph (process-wide).
TF_TriState g_remapping = TF_TriState_Default;
std::atomic<bool> g_plugin_initialized{false};
std::atomic<bool> g_kernel_registered{false};
std::atomic<long> g_optimizer_calls{0};

// Set while this thread runs a cluster's TensorFlow fallback: graphs built for it must not
// be rewritten again (that would recurse forever).
thread_local bool t_in_fallback = false;

void replace_callback(PyObject** slot, py::object value) {
  PyObject* old = *slot;
  *slot = value.is_none() ? nullptr : value.release().ptr();
  Py_XDECREF(old);
}

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
StatusPtr new_status() { return StatusPtr(TF_NewStatus()); }

// ---------------------------------------------------------------------------------------
// Grappler plugin optimizer
// ---------------------------------------------------------------------------------------

void copy_to_buffer(const void* data, size_t length, TF_Buffer* out) {
  void* copy = std::malloc(length ? length : 1);
  std::memcpy(copy, data, length);
  out->data = copy;
  out->length = length;
  out->data_deallocator = [](void* data, size_t) { std::free(data); };
}

using ListGetter = void (*)(const TF_GrapplerItem*, char**, size_t*, int, void*, size_t, TF_Status*);
using SizeGetter = void (*)(const TF_GrapplerItem*, int*, size_t*, TF_Status*);

std::vector<std::string> node_list(const TF_GrapplerItem* item, SizeGetter get_size,
                                   ListGetter get_list) {
  auto status = new_status();
  int count = 0;
  size_t storage_size = 0;
  get_size(item, &count, &storage_size, status.get());
  if (TF_GetCode(status.get()) != TF_OK || count == 0) return {};
  std::vector<char*> values(count);
  std::vector<size_t> lengths(count);
  std::vector<char> storage(storage_size);
  get_list(item, values.data(), lengths.data(), count, storage.data(), storage_size, status.get());
  if (TF_GetCode(status.get()) != TF_OK) return {};
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.emplace_back(values[i], lengths[i]);
  return names;
}

void optimize(void*, const TF_Buffer* graph, const TF_GrapplerItem* item, TF_Buffer* out,
              TF_Status* status) {
  g_optimizer_calls.fetch_add(1, std::memory_order_relaxed);
  TF_SetStatus(status, TF_OK, "");
  if (t_in_fallback || !Py_IsInitialized()) {
    copy_to_buffer(graph->data, graph->length, out);
    return;
  }
  auto fetch = node_list(item, TF_GetFetchNodesListSize, TF_GetFetchNodesList);
  auto preserve = node_list(item, TF_GetNodesToPreserveListSize, TF_GetNodesToPreserveList);

  PythonLock gil;
  bool rewritten = false;
  if (g_rewriter != nullptr) {
    try {
      py::object rewriter = py::reinterpret_borrow<py::object>(g_rewriter);
      py::object result = rewriter(
          py::bytes(static_cast<const char*>(graph->data), graph->length), fetch, preserve);
      if (!result.is_none()) {
        char* data = nullptr;
        Py_ssize_t length = 0;
        if (PyBytes_AsStringAndSize(result.ptr(), &data, &length) == 0) {
          copy_to_buffer(data, static_cast<size_t>(length), out);
          rewritten = true;
        } else {
          PyErr_Clear();
        }
      }
    } catch (py::error_already_set& error) {
      // The Python rewriter logs its own failures; this only guards against a broken one.
      error.discard_as_unraisable("ovtf graph rewriter");
    }
  }
  if (!rewritten) copy_to_buffer(graph->data, graph->length, out);
}

// ---------------------------------------------------------------------------------------
// numpy views of TF tensors
// ---------------------------------------------------------------------------------------

// A numpy array over a TF tensor's buffer. The array owns `tensor` (a reference on the
// buffer): TF keeps the memory alive, and resource variables copy-on-write while it lives.
py::array tensor_view(TF_Tensor* tensor, bool writable) {
  auto dtype_entry = g_numpy_dtypes.find(static_cast<int>(TF_TensorType(tensor)));
  if (dtype_entry == g_numpy_dtypes.end()) {
    int type = static_cast<int>(TF_TensorType(tensor));
    TF_DeleteTensor(tensor);
    throw std::runtime_error("ovtf: unsupported tensor dtype " + std::to_string(type));
  }
  py::dtype dtype = py::reinterpret_borrow<py::dtype>(dtype_entry->second);
  std::vector<py::ssize_t> shape(TF_NumDims(tensor));
  for (size_t d = 0; d < shape.size(); ++d) shape[d] = TF_Dim(tensor, static_cast<int>(d));
  void* data = TF_TensorData(tensor);
  if (data == nullptr || TF_TensorElementCount(tensor) == 0) {
    TF_DeleteTensor(tensor);
    return py::array(dtype, shape);  // empty: nothing to share
  }
  py::capsule owner(tensor, [](void* t) { TF_DeleteTensor(static_cast<TF_Tensor*>(t)); });
  py::array array(dtype, shape, data, owner);
  if (!writable) {
    py::detail::array_proxy(array.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  }
  return array;
}

// The `outputs` object Python writes results into: each output is a TF-allocated tensor.
// One sink serves a whole kernel call, the device attempt and then any fallback: an output
// the device allocated before failing is handed to the fallback again (TF allows one
// allocation per output). Python may keep a reference to it; once the call is over the
// sink is closed and refuses to allocate.
class OutputSink {
 public:
  OutputSink(TF_OpKernelContext* ctx, const std::vector<TF_DataType>* types, std::string cluster)
      : ctx_(ctx), types_(types), cluster_(std::move(cluster)), shapes_(types->size()),
        allocated_(types->size(), false) {}

  py::array allocate(int index, const std::vector<int64_t>& shape) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (ctx_ == nullptr) throw std::runtime_error("cluster " + cluster_ + ": outputs are closed");
    if (index < 0 || index >= static_cast<int>(types_->size())) {
      throw py::index_error("cluster " + cluster_ + " has no output " + std::to_string(index));
    }
    for (int64_t dim : shape) {
      if (dim < 0) throw std::invalid_argument("negative dimension in output shape");
    }
    auto status = new_status();
    TF_Tensor* tensor = nullptr;
    if (allocated_[index]) {
      if (shapes_[index] != shape) {
        throw std::runtime_error("cluster " + cluster_ + ": output " + std::to_string(index) +
                                 " was already allocated with another shape");
      }
      tensor = TF_GetMutableOutput(ctx_, index, status.get());
    } else {
      TF_DataType type = (*types_)[index];
      auto dtype_entry = g_numpy_dtypes.find(static_cast<int>(type));
      if (dtype_entry == g_numpy_dtypes.end()) {
        throw std::runtime_error("cluster " + cluster_ + ": unsupported output dtype " +
                                 std::to_string(static_cast<int>(type)));
      }
      size_t bytes = py::reinterpret_borrow<py::dtype>(dtype_entry->second).itemsize();
      for (int64_t dim : shape) bytes *= static_cast<size_t>(dim);
      tensor = TF_AllocateOutput(ctx_, index, type, shape.data(), static_cast<int>(shape.size()),
                                 bytes, status.get());
    }
    if (TF_GetCode(status.get()) != TF_OK || tensor == nullptr) {
      throw std::runtime_error("cluster " + cluster_ + ": cannot allocate output " +
                               std::to_string(index) + ": " + TF_Message(status.get()));
    }
    allocated_[index] = true;
    shapes_[index] = shape;
    return tensor_view(tensor, /*writable=*/true);
  }

  // The first output not allocated, or -1.
  int missing_output() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < allocated_.size(); ++i)
      if (!allocated_[i]) return static_cast<int>(i);
    return -1;
  }

  int size() const { return static_cast<int>(types_->size()); }

  // Python's promise, after a device run: "calls with these inputs may repeat that run on
  // `model` without asking me" (see "Fast path" below).
  struct Repeat {
    std::shared_ptr<ovtf_openvino::Model> model;
    std::vector<int> parameter_inputs, weight_inputs, value_inputs;
    int rows_input = -1;
    std::string backend;  // whose counters its calls add to
  };
  void arm(std::shared_ptr<ovtf_openvino::Model> model, std::vector<int> parameter_inputs,
           std::vector<int> weight_inputs, std::vector<int> value_inputs, int rows_input,
           std::string backend) {
    std::lock_guard<std::mutex> lock(mutex_);
    repeat_ = std::make_unique<Repeat>(Repeat{std::move(model), std::move(parameter_inputs),
                                              std::move(weight_inputs), std::move(value_inputs),
                                              rows_input, std::move(backend)});
  }
  std::unique_ptr<Repeat> take_repeat() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::move(repeat_);
  }

  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    ctx_ = nullptr;
  }

 private:
  std::mutex mutex_;
  TF_OpKernelContext* ctx_;
  const std::vector<TF_DataType>* types_;
  std::string cluster_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<bool> allocated_;
  std::unique_ptr<Repeat> repeat_;
};

// ---------------------------------------------------------------------------------------
// Fallback worker pool
// ---------------------------------------------------------------------------------------

class WorkerPool {
 public:
  void submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (threads_.empty()) start_locked();
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

  // Called from Python's atexit: finish queued jobs, then stop (before the interpreter goes).
  void shutdown() {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      threads.swap(threads_);
    }
    wake_.notify_all();
    for (auto& thread : threads) thread.join();
  }

 private:
  void start_locked() {
    unsigned count = std::max(4u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < count; ++i) threads_.emplace_back([this] { loop(); });
  }

  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

WorkerPool& fallback_pool() {
  static WorkerPool* pool = new WorkerPool();  // never destroyed: threads may outlive statics
  return *pool;
}

// ---------------------------------------------------------------------------------------
// OVTFCluster kernel
// ---------------------------------------------------------------------------------------

struct Ticket;

struct ClusterKernel {
  std::string name;
  std::vector<TF_DataType> input_types;
  std::vector<TF_DataType> output_types;
  PyObject* handle = nullptr;  // Python object with run(inputs, outputs) and fallback(...)
  std::mutex ticket_mutex;
  std::shared_ptr<Ticket> ticket;  // the fast path's repeatable run, or none
};

std::string get_string_attr(TF_OpKernelConstruction* ctx, const char* attr, TF_Status* status) {
  int32_t list_size = 0, total_size = 0;
  TF_OpKernelConstruction_GetAttrSize(ctx, attr, &list_size, &total_size, status);
  if (TF_GetCode(status) != TF_OK) return "";
  std::string value(static_cast<size_t>(total_size), '\0');
  TF_OpKernelConstruction_GetAttrString(ctx, attr, value.data(), value.size(), status);
  return value;
}

std::vector<TF_DataType> get_type_list_attr(TF_OpKernelConstruction* ctx, const char* attr,
                                            TF_Status* status) {
  int32_t list_size = 0, total_size = 0;
  TF_OpKernelConstruction_GetAttrSize(ctx, attr, &list_size, &total_size, status);
  if (TF_GetCode(status) != TF_OK || list_size <= 0) return {};
  std::vector<TF_DataType> types(static_cast<size_t>(list_size));
  TF_OpKernelConstruction_GetAttrTypeList(ctx, attr, types.data(), list_size, status);
  return types;
}

void* create_cluster_kernel(TF_OpKernelConstruction* ctx) {
  auto* kernel = new ClusterKernel();
  auto status = new_status();
  kernel->name = get_string_attr(ctx, "cluster_name", status.get());
  std::string graph, backend;
  if (TF_GetCode(status.get()) == TF_OK) graph = get_string_attr(ctx, "cluster_graph", status.get());
  if (TF_GetCode(status.get()) == TF_OK) backend = get_string_attr(ctx, "backend", status.get());
  if (TF_GetCode(status.get()) == TF_OK) kernel->input_types = get_type_list_attr(ctx, "Tin", status.get());
  if (TF_GetCode(status.get()) == TF_OK) kernel->output_types = get_type_list_attr(ctx, "Tout", status.get());
  if (TF_GetCode(status.get()) != TF_OK) {
    TF_OpKernelConstruction_Failure(ctx, status.get());
    return kernel;
  }

  std::string error;
  {
    PythonLock gil;
    if (g_cluster_factory == nullptr) {
      error = "ovtf is not initialized (no cluster factory)";
    } else {
      try {
        std::vector<int> tin(kernel->input_types.begin(), kernel->input_types.end());
        std::vector<int> tout(kernel->output_types.begin(), kernel->output_types.end());
        py::object factory = py::reinterpret_borrow<py::object>(g_cluster_factory);
        kernel->handle = factory(kernel->name, py::bytes(graph), tin, tout, backend).release().ptr();
      } catch (py::error_already_set& e) {
        error = e.what();
      }
    }
  }
  if (!error.empty()) {
    TF_SetStatus(status.get(), TF_INTERNAL,
                 ("OVTFCluster '" + kernel->name + "': " + error).c_str());
    TF_OpKernelConstruction_Failure(ctx, status.get());
  }
  return kernel;
}

// Handles of deleted kernels wait here to be released by the main thread at a point where
// it runs Python bytecode. TF deletes kernels while holding its own locks (e.g. inside
// clear_kernel_cache), and releasing a handle can run Python code that calls back into TF
// (a fallback's concrete function unregisters itself), which would deadlock on those locks.
std::mutex g_release_mutex;
std::vector<PyObject*> g_handles_to_release;
bool g_release_scheduled = false;

int release_handles(void*) {
  std::vector<PyObject*> handles;
  {
    std::lock_guard<std::mutex> lock(g_release_mutex);
    handles.swap(g_handles_to_release);
    g_release_scheduled = false;
  }
  for (PyObject* handle : handles) Py_DECREF(handle);
  return 0;
}

void release_handle_later(PyObject* handle) {
  std::lock_guard<std::mutex> lock(g_release_mutex);
  g_handles_to_release.push_back(handle);
  if (!g_release_scheduled && Py_IsInitialized()) {
    // Needs neither the GIL nor a thread state; fails only if Python's queue is full, in
    // which case the next deleted kernel tries again.
    g_release_scheduled = Py_AddPendingCall(release_handles, nullptr) == 0;
  }
}

void delete_cluster_kernel(void* opaque) {
  auto* kernel = static_cast<ClusterKernel*>(opaque);
  if (kernel->handle != nullptr) release_handle_later(kernel->handle);
  delete kernel;
}

void fail(TF_OpKernelContext* ctx, const std::string& cluster, const std::string& message,
          TF_Code code = TF_INTERNAL) {
  auto status = new_status();
  TF_SetStatus(status.get(), code, ("OVTFCluster '" + cluster + "': " + message).c_str());
  TF_OpKernelContext_Failure(ctx, status.get());
}

// A TensorFlow error raised in Python (a tf.errors.OpError from the fallback: ArgMin of an
// empty tensor, an index out of range) keeps its class: its code and message, not INTERNAL.
void fail_from_python(TF_OpKernelContext* ctx, const std::string& cluster,
                      py::error_already_set& error) {
  try {
    py::object value = error.value();
    if (value && py::hasattr(value, "error_code") && py::hasattr(value, "message")) {
      py::object code = value.attr("error_code");
      if (py::isinstance<py::int_>(code)) {
        int number = code.cast<int>();
        if (number > 0 && number <= TF_UNAUTHENTICATED) {
          fail(ctx, cluster, py::str(value.attr("message")).cast<std::string>(),
               static_cast<TF_Code>(number));
          return;
        }
      }
    }
  } catch (std::exception&) {
    // not a readable TF error: report it as it is
  }
  fail(ctx, cluster, error.what());
}

// Collects the kernel's inputs as read-only zero-copy numpy arrays (GIL held).
// `any_empty` (when given) is set when some input has no elements.
py::list input_views(TF_OpKernelContext* ctx, bool* any_empty = nullptr) {
  py::list inputs;
  int count = TF_NumInputs(ctx);
  auto status = new_status();
  for (int i = 0; i < count; ++i) {
    TF_Tensor* tensor = nullptr;
    TF_GetInput(ctx, i, &tensor, status.get());
    if (TF_GetCode(status.get()) != TF_OK) {
      throw std::runtime_error(std::string("cannot read input ") + std::to_string(i) + ": " +
                               TF_Message(status.get()));
    }
    if (any_empty != nullptr && TF_TensorElementCount(tensor) == 0) *any_empty = true;
    inputs.append(tensor_view(tensor, /*writable=*/false));
  }
  return inputs;
}

// Runs `method` of the handle (GIL held); returns its result, or sets a kernel failure and
// returns a null object.
py::object call_handle(ClusterKernel* kernel, TF_OpKernelContext* ctx, const char* method,
                       py::list& inputs, const std::shared_ptr<OutputSink>& sink) {
  try {
    py::object handle = py::reinterpret_borrow<py::object>(kernel->handle);
    py::object result = handle.attr(method)(inputs, sink);
    return result;
  } catch (py::error_already_set& e) {
    fail_from_python(ctx, kernel->name, e);
  } catch (std::exception& e) {
    fail(ctx, kernel->name, e.what());
  }
  return py::object();
}

bool check_outputs(ClusterKernel* kernel, TF_OpKernelContext* ctx, OutputSink& sink) {
  int missing = sink.missing_output();
  if (missing < 0) return true;
  fail(ctx, kernel->name, "produced no value for output " + std::to_string(missing));
  return false;
}

void run_fallback(ClusterKernel* kernel, TF_OpKernelContext* ctx,
                  TF_AsyncOpKernelDoneCallback* done, const std::shared_ptr<OutputSink>& sink) {
  {
    PythonLock gil;
    t_in_fallback = true;
    try {
      py::list inputs = input_views(ctx);
      py::object result = call_handle(kernel, ctx, "fallback", inputs, sink);
      if (result) check_outputs(kernel, ctx, *sink);
    } catch (std::exception& e) {
      fail(ctx, kernel->name, e.what());
    }
    sink->close();
    t_in_fallback = false;
  }
  TF_RunAsyncOpKernelDoneCallback(done);
}

// ---------------------------------------------------------------------------------------
// Fast path
//
// After a call ran on the device, Python may arm the kernel (`OutputSink.arm`): later calls
// whose inputs match that call exactly run the same compiled model from here, with no Python
// and no numpy views. "Match": every input has the same dims; each weight input (baked into
// the model as constants) is the very same buffer, on which the ticket holds a reference, so
// TensorFlow cannot update it in place (an assign copies on write, which shows as another
// buffer); each value input (baked by value: shape arguments) has the same bytes. Anything
// else, a retired model, or a settings change since arming (`invalidate_fast_paths` bumps the
// epoch) goes the Python way, which may arm again. An OpenVINO failure here disarms and
// retries the call the Python way, where failures are handled (fallback, counts, errors).
// ---------------------------------------------------------------------------------------

std::atomic<uint64_t> g_epoch{1};

// Calls, rows and time per backend name, for ovtf.stats() (Python adds them to its own).
struct FastPathCounter {
  std::string name;
  std::atomic<uint64_t> calls{0}, rows{0}, nanoseconds{0};
};
std::mutex g_counter_mutex;
std::vector<std::unique_ptr<FastPathCounter>> g_counters;  // one per backend; never shrinks

// The counter of `backend` (looked up when a kernel is armed, not per call).
FastPathCounter* counter_for(const std::string& backend) {
  std::lock_guard<std::mutex> lock(g_counter_mutex);
  for (auto& counter : g_counters)
    if (counter->name == backend) return counter.get();
  g_counters.push_back(std::make_unique<FastPathCounter>());
  g_counters.back()->name = backend;
  return g_counters.back().get();
}

struct Ticket {
  uint64_t epoch = 0;
  std::shared_ptr<ovtf_openvino::Model> model;
  std::vector<std::vector<int64_t>> dims;  // of every input
  std::vector<int> parameter_inputs;
  std::vector<int> weight_inputs;
  std::vector<TF_Tensor*> weights;  // held: their buffers cannot change in place
  std::vector<int> value_inputs;
  std::vector<std::string> values;
  int rows_input = -1;
  FastPathCounter* counter = nullptr;
  ~Ticket() {
    for (TF_Tensor* tensor : weights) TF_DeleteTensor(tensor);
  }
};

// The kernel's inputs as TF_Tensors, deleted with the object.
class InputTensors {
 public:
  explicit InputTensors(TF_OpKernelContext* ctx) : tensors_(TF_NumInputs(ctx), nullptr) {
    auto status = new_status();
    for (size_t i = 0; i < tensors_.size(); ++i) {
      TF_GetInput(ctx, static_cast<int>(i), &tensors_[i], status.get());
      if (TF_GetCode(status.get()) != TF_OK) {
        ok_ = false;
        return;
      }
    }
  }
  ~InputTensors() { clear(); }
  bool ok() const { return ok_; }
  // Deletes every tensor; size() is unchanged, each entry is then null.
  void clear() {
    for (TF_Tensor*& tensor : tensors_) {
      if (tensor != nullptr) TF_DeleteTensor(tensor);
      tensor = nullptr;
    }
  }
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

std::vector<int64_t> dims_of(TF_Tensor* tensor) {
  std::vector<int64_t> dims(static_cast<size_t>(TF_NumDims(tensor)));
  for (size_t d = 0; d < dims.size(); ++d) dims[d] = TF_Dim(tensor, static_cast<int>(d));
  return dims;
}

bool same_bytes(TF_Tensor* tensor, const std::string& bytes) {
  size_t size = TF_TensorByteSize(tensor);
  return size == bytes.size() && (size == 0 || std::memcmp(TF_TensorData(tensor), bytes.data(), size) == 0);
}

void arm(ClusterKernel* kernel, TF_OpKernelContext* ctx, OutputSink::Repeat& repeat,
         uint64_t epoch) {
  if (!repeat.model || repeat.model->num_inputs() != repeat.parameter_inputs.size() ||
      repeat.model->num_outputs() != kernel->output_types.size()) {
    return;
  }
  InputTensors inputs(ctx);
  if (!inputs.ok()) return;
  auto ticket = std::make_shared<Ticket>();
  ticket->epoch = epoch;
  ticket->model = repeat.model;
  for (size_t i = 0; i < inputs.size(); ++i) ticket->dims.push_back(dims_of(inputs[i]));
  for (int index : repeat.parameter_inputs) {
    if (index < 0 || index >= static_cast<int>(inputs.size())) return;
  }
  ticket->parameter_inputs = repeat.parameter_inputs;
  for (int index : repeat.weight_inputs) {
    if (index < 0 || index >= static_cast<int>(inputs.size())) return;
    ticket->weight_inputs.push_back(index);
    ticket->weights.push_back(inputs.release(static_cast<size_t>(index)));
  }
  for (int index : repeat.value_inputs) {
    if (index < 0 || index >= static_cast<int>(inputs.size()) || inputs[index] == nullptr) return;
    ticket->value_inputs.push_back(index);
    ticket->values.emplace_back(static_cast<const char*>(TF_TensorData(inputs[index])),
                                TF_TensorByteSize(inputs[index]));
  }
  ticket->rows_input = repeat.rows_input;
  ticket->counter = counter_for(repeat.backend);
  std::lock_guard<std::mutex> lock(kernel->ticket_mutex);
  kernel->ticket = std::move(ticket);
}

void disarm(ClusterKernel* kernel, const Ticket* ticket) {
  std::lock_guard<std::mutex> lock(kernel->ticket_mutex);
  if (kernel->ticket.get() == ticket) kernel->ticket.reset();
}

// True: the call is done here (outputs written, or the kernel failed with TF's own error).
// False: it must go the Python way (nothing was allocated).
bool run_fast(ClusterKernel* kernel, TF_OpKernelContext* ctx) {
  std::shared_ptr<Ticket> ticket;
  {
    std::lock_guard<std::mutex> lock(kernel->ticket_mutex);
    ticket = kernel->ticket;
  }
  if (!ticket) return false;
  if (ticket->epoch != g_epoch.load(std::memory_order_relaxed) || ticket->model->retired()) {
    disarm(kernel, ticket.get());
    return false;
  }
  InputTensors inputs(ctx);
  if (!inputs.ok() || inputs.size() != ticket->dims.size()) return false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    TF_Tensor* tensor = inputs[i];
    const auto& dims = ticket->dims[i];
    if (TF_NumDims(tensor) != static_cast<int>(dims.size())) return false;
    for (size_t d = 0; d < dims.size(); ++d)
      if (TF_Dim(tensor, static_cast<int>(d)) != dims[d]) return false;
  }
  for (size_t k = 0; k < ticket->weight_inputs.size(); ++k) {
    if (TF_TensorData(inputs[ticket->weight_inputs[k]]) != TF_TensorData(ticket->weights[k])) return false;
  }
  for (size_t k = 0; k < ticket->value_inputs.size(); ++k) {
    if (!same_bytes(inputs[ticket->value_inputs[k]], ticket->values[k])) return false;
  }
  std::vector<ovtf_openvino::HostTensor> host;
  host.reserve(ticket->parameter_inputs.size());
  for (int index : ticket->parameter_inputs) {
    TF_Tensor* tensor = inputs[index];
    host.push_back({TF_TensorData(tensor), ticket->dims[index], TF_TensorByteSize(tensor)});
  }
  // The context keeps every input alive until the kernel is done, so the data pointers stay
  // valid. Dropping our references now, while their refcounts are still in cache, is cheap;
  // after the inference has swept the caches it cost 128 us for MobileNetV2's 263 inputs.
  inputs.clear();
  auto start = std::chrono::steady_clock::now();
  std::string allocation_error;
  try {
    ticket->model->infer(host, [&](const std::vector<ovtf_openvino::OutputTensor>& outputs) {
      for (size_t o = 0; o < outputs.size(); ++o) {  // all checked before any is allocated
        size_t expected = TF_DataTypeSize(kernel->output_types[o]);
        for (int64_t dim : outputs[o].dims) expected *= static_cast<size_t>(dim);
        if (expected != outputs[o].bytes) throw std::runtime_error("output size differs");
      }
      auto status = new_status();
      for (size_t o = 0; o < outputs.size(); ++o) {
        std::vector<int64_t> dims = outputs[o].dims;
        TF_Tensor* out = TF_AllocateOutput(ctx, static_cast<int>(o), kernel->output_types[o],
                                           dims.data(), static_cast<int>(dims.size()),
                                           outputs[o].bytes, status.get());
        if (TF_GetCode(status.get()) != TF_OK || out == nullptr) {
          allocation_error = "cannot allocate output " + std::to_string(o) + ": " +
                             TF_Message(status.get());
          if (out != nullptr) TF_DeleteTensor(out);
          return;
        }
        if (outputs[o].bytes) std::memcpy(TF_TensorData(out), outputs[o].data, outputs[o].bytes);
        TF_DeleteTensor(out);
      }
    });
  } catch (std::exception&) {
    disarm(kernel, ticket.get());  // the Python way meets the same failure and handles it
    return false;
  }
  if (!allocation_error.empty()) {
    fail(ctx, kernel->name, allocation_error);
    return true;
  }
  if (FastPathCounter* counter = ticket->counter) {
    auto elapsed = std::chrono::steady_clock::now() - start;
    counter->calls.fetch_add(1, std::memory_order_relaxed);
    int rows = ticket->rows_input;
    if (rows >= 0 && !ticket->dims[rows].empty())
      counter->rows.fetch_add(static_cast<uint64_t>(ticket->dims[rows][0]), std::memory_order_relaxed);
    counter->nanoseconds.fetch_add(
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()),
        std::memory_order_relaxed);
  }
  return true;
}

void compute_cluster_async(void* opaque, TF_OpKernelContext* ctx,
                           TF_AsyncOpKernelDoneCallback* done) {
  auto* kernel = static_cast<ClusterKernel*>(opaque);
  if (kernel->handle == nullptr) {
    fail(ctx, kernel->name, "kernel was not initialized");
    TF_RunAsyncOpKernelDoneCallback(done);
    return;
  }
  if (run_fast(kernel, ctx)) {
    TF_RunAsyncOpKernelDoneCallback(done);
    return;
  }
  bool needs_fallback = false;
  auto sink = std::make_shared<OutputSink>(ctx, &kernel->output_types, kernel->name);
  uint64_t epoch = g_epoch.load();  // a settings change during the call voids its arming
  {
    PythonLock gil;
    try {
      // A call with a zero-element input is routed to TensorFlow by the handle
      // (`run_zero_size`): found here, where it costs nothing, not by a Python loop.
      bool any_empty = false;
      py::list inputs = input_views(ctx, &any_empty);
      const char* method = "run";
      if (any_empty &&
          py::hasattr(py::reinterpret_borrow<py::object>(kernel->handle), "run_zero_size")) {
        method = "run_zero_size";
      }
      py::object result = call_handle(kernel, ctx, method, inputs, sink);
      if (result) {
        if (result.cast<bool>()) {
          if (check_outputs(kernel, ctx, *sink)) {
            if (auto repeat = sink->take_repeat()) arm(kernel, ctx, *repeat, epoch);
          }
        } else {
          needs_fallback = true;
        }
      }
    } catch (std::exception& e) {
      fail(ctx, kernel->name, e.what());
    }
    if (!needs_fallback) sink->close();
  }
  if (!needs_fallback) {
    TF_RunAsyncOpKernelDoneCallback(done);
    return;
  }
  // TF passes a pointer to its by-value `done` (a std::function<void()>), which dies when
  // this function returns: keep a copy for the worker.
  auto* done_copy = new std::function<void()>(*reinterpret_cast<std::function<void()>*>(done));
  fallback_pool().submit([kernel, ctx, done_copy, sink] {
    run_fallback(kernel, ctx, reinterpret_cast<TF_AsyncOpKernelDoneCallback*>(done_copy), sink);
    delete done_copy;
  });
}

void shape_unknown(TF_ShapeInferenceContext* ctx, TF_Status* status) {
  TF_ShapeInferenceContextSetUnknownShape(ctx, status);
}

// Registers a stateful op (list input, list output, unknown output shapes) and its CPU kernel;
// throws with TensorFlow's message if either is refused.
void register_op(const char* name, std::initializer_list<const char*> attrs, const char* input,
                 const char* output, const char* kernel_name, TF_KernelBuilder* kernel) {
  auto status = new_status();
  TF_OpDefinitionBuilder* op = TF_NewOpDefinitionBuilder(name);
  for (const char* attr : attrs) TF_OpDefinitionBuilderAddAttr(op, attr);
  TF_OpDefinitionBuilderAddInput(op, input);
  TF_OpDefinitionBuilderAddOutput(op, output);
  TF_OpDefinitionBuilderSetIsStateful(op, true);
  TF_OpDefinitionBuilderSetShapeInferenceFunction(op, shape_unknown);
  TF_RegisterOpDefinition(op, status.get());
  if (TF_GetCode(status.get()) != TF_OK) {
    TF_DeleteKernelBuilder(kernel);
    throw std::runtime_error(std::string("cannot register op ") + name + ": " + TF_Message(status.get()));
  }
  TF_RegisterKernelBuilder(kernel_name, kernel, status.get());
  if (TF_GetCode(status.get()) != TF_OK) {
    throw std::runtime_error(std::string("cannot register the kernel of ") + name + ": " +
                             TF_Message(status.get()));
  }
}

void register_cluster_op() {
  if (g_kernel_registered.exchange(true)) return;
  // Stateful, or TF would constant-fold the cluster at optimization time.
  register_op(kClusterOp,
              {"Tin: list(type) >= 0", "Tout: list(type) >= 0", "cluster_graph: string",
               "cluster_name: string", "backend: string = ''"},
              "inputs: Tin", "outputs: Tout", "OVTFClusterCPU",
              TF_NewAsyncKernelBuilder(kClusterOp, "CPU", create_cluster_kernel,
                                       compute_cluster_async, delete_cluster_kernel));
}

// OVTF 2.x's cluster op, so that graphs saved after OVTF's rewrite can be imported. ovtf's
// rewriter opens these nodes back into TF ops before TensorFlow runs the graph
// (ovtf/partitioner/ovtf2_clusters.py); the kernel only runs for a node it could not open,
// and fails naming it.
constexpr const char* kOvtf2ClusterOp = "_nGraphEncapsulate";
std::atomic<bool> g_ovtf2_op_registered{false};

void compute_unopened_ovtf2_cluster(void*, TF_OpKernelContext* ctx) {
  fail(ctx, kOvtf2ClusterOp,
       "an OVTF 2.x cluster node was not opened by ovtf's rewriter (its function is missing "
       "from the graph's library, or grappler did not run on this graph)");
}

void register_ovtf2_cluster_op() {
  if (g_ovtf2_op_registered.exchange(true)) return;
  register_op(kOvtf2ClusterOp,
              {"Targuments: list(type) >= 0", "Tresults: list(type) >= 0", "ovtf_cluster: int",
               "ngraph_graph_id: int = 0",
               "cluster_cost: int = 0"},  // written by some OVTF releases
              "args: Targuments", "results: Tresults", "Ovtf2ClusterCPU",
              TF_NewKernelBuilder(
                  kOvtf2ClusterOp, "CPU", [](TF_OpKernelConstruction*) -> void* { return nullptr; },
                  compute_unopened_ovtf2_cluster, [](void*) {}));
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

// Called by TensorFlow when the library is loaded as a pluggable device library.
extern "C" __attribute__((visibility("default"))) void TF_InitGraph(
    TP_OptimizerRegistrationParams* params, TF_Status* status) {
  params->struct_size = TP_OPTIMIZER_REGISTRATION_PARAMS_STRUCT_SIZE;
  params->device_type = "CPU";
  params->optimizer_configs->struct_size = TP_OPTIMIZER_CONFIGS_STRUCT_SIZE;
  params->optimizer_configs->remapping = g_remapping;
  params->optimizer->struct_size = TP_OPTIMIZER_STRUCT_SIZE;
  params->optimizer->create_func = nullptr;
  params->optimizer->optimize_func = optimize;
  params->optimizer->destroy_func = nullptr;
  g_plugin_initialized.store(true);
  TF_SetStatus(status, TF_OK, "");
}

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
    std::lock_guard<std::mutex> lock(g_counter_mutex);
    for (auto& counter : g_counters) {
      result.append(py::make_tuple(counter->name, counter->calls.load(), counter->rows.load(),
                                   counter->nanoseconds.load() * 1e-9));
    }
    return result;
  }, "[(backend name, calls, rows, seconds)] run on kernels' fast paths.");
  m.def("reset_fast_path_counts", []() {
    std::lock_guard<std::mutex> lock(g_counter_mutex);
    for (auto& counter : g_counters) counter->calls = counter->rows = counter->nanoseconds = 0;
  });
  m.def("invalidate_fast_paths", []() { g_epoch.fetch_add(1); },
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
    fallback_pool().shutdown();
  });
}
