// The OVTFCluster op and its CPU kernel. The kernel is asynchronous: a call that the fast
// path (fast_path.cc) does not repeat goes to Python, which runs it on the device with
// zero-copy numpy views of the inputs and writes results into TF-allocated outputs
// (OutputSink). When Python asks for fallback, the work moves to a small native worker pool
// that runs the original subgraph with TensorFlow, so the inter-op pool is never blocked
// waiting for TensorFlow (which would deadlock).

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tensorflow/c/ops.h"

#include "bridge.h"

namespace ovtf_bridge {

PyObject* g_cluster_factory = nullptr;
std::unordered_map<int, PyObject*> g_numpy_dtypes;
thread_local bool t_in_fallback = false;

namespace {

constexpr const char* kClusterOp = "OVTFCluster";
std::atomic<bool> g_kernel_registered{false};

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

}  // namespace

// ---------------------------------------------------------------------------------------
// Outputs and inputs
// ---------------------------------------------------------------------------------------

OutputSink::OutputSink(TF_OpKernelContext* ctx, const std::vector<TF_DataType>* types,
                       std::string cluster)
    : ctx_(ctx), types_(types), cluster_(std::move(cluster)), shapes_(types->size()),
      allocated_(types->size(), false) {}

py::array OutputSink::allocate(int index, const std::vector<int64_t>& shape) {
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

int OutputSink::missing_output() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < allocated_.size(); ++i)
    if (!allocated_[i]) return static_cast<int>(i);
  return -1;
}

void OutputSink::arm(std::shared_ptr<ovtf_openvino::Model> model, std::vector<int> parameter_inputs,
                     std::vector<int> weight_inputs, std::vector<int> value_inputs, int rows_input,
                     std::string backend) {
  std::lock_guard<std::mutex> lock(mutex_);
  repeat_ = std::make_unique<Repeat>(Repeat{std::move(model), std::move(parameter_inputs),
                                            std::move(weight_inputs), std::move(value_inputs),
                                            rows_input, std::move(backend)});
}

std::unique_ptr<OutputSink::Repeat> OutputSink::take_repeat() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::move(repeat_);
}

void OutputSink::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  ctx_ = nullptr;
}

InputTensors::InputTensors(TF_OpKernelContext* ctx) : tensors_(TF_NumInputs(ctx), nullptr) {
  auto status = new_status();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    TF_GetInput(ctx, static_cast<int>(i), &tensors_[i], status.get());
    if (TF_GetCode(status.get()) != TF_OK) {
      ok_ = false;
      return;
    }
  }
}

void InputTensors::clear() {
  for (TF_Tensor*& tensor : tensors_) {
    if (tensor != nullptr) TF_DeleteTensor(tensor);
    tensor = nullptr;
  }
}

void fail(TF_OpKernelContext* ctx, const std::string& cluster, const std::string& message,
          TF_Code code) {
  auto status = new_status();
  TF_SetStatus(status.get(), code, ("OVTFCluster '" + cluster + "': " + message).c_str());
  TF_OpKernelContext_Failure(ctx, status.get());
}

namespace {

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
// Kernel construction and deletion
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------

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

// On a worker; the caller then runs the kernel's `done`.
void run_fallback(ClusterKernel* kernel, TF_OpKernelContext* ctx,
                  const std::shared_ptr<OutputSink>& sink) {
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

// TensorFlow's C API hands an async kernel its `done` as an opaque
// TF_AsyncOpKernelDoneCallback*, whose one operation is TF_RunAsyncOpKernelDoneCallback and
// which dangles once compute_async returns: TensorFlow (tensorflow/c/kernels.cc, every release
// ovtf supports) makes it by casting the address of CAsyncOpKernel::ComputeAsync's by-value
// `done`, a std::function<void()>. A fallback has to finish after compute_async returned (a
// kernel that waits for TensorFlow starves the inter-op pool and deadlocks), and the C API
// has no way to keep the callback, so it is copied as that std::function: casting the
// pointer back to the type TensorFlow cast it from. This is the bridge's one reliance on
// TensorFlow's C++ side; the copy is called directly, never handed back to TensorFlow as if
// it were TensorFlow's own.
using TfDoneCallback = std::function<void()>;

TfDoneCallback keep_done(TF_AsyncOpKernelDoneCallback* done) {
  return *reinterpret_cast<const TfDoneCallback*>(done);
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
  uint64_t epoch = fast_path_epoch();  // a settings change during the call voids its arming
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
  try {
    fallback_pool().submit([kernel, ctx, sink, kept = keep_done(done)] {
      run_fallback(kernel, ctx, sink);
      kept();
    });
  } catch (std::exception& e) {  // no worker could start: `done` is still TensorFlow's to run
    fail(ctx, kernel->name, std::string("cannot run the TensorFlow fallback: ") + e.what());
    sink->close();
    TF_RunAsyncOpKernelDoneCallback(done);
  }
}

// ---------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------

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

}  // namespace

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

namespace {
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
}  // namespace

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

void shutdown_fallback_pool() { fallback_pool().shutdown(); }

}  // namespace ovtf_bridge
