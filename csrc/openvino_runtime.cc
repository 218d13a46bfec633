// OpenVINO's C API, loaded at run time (see openvino_runtime.h).

#include "openvino_runtime.h"

#include <dlfcn.h>

#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "openvino/c/openvino.h"

namespace ovtf_openvino {
namespace {

// The C API functions ovtf uses, looked up by name. `decltype` takes each one's signature
// from OpenVINO's own header; nothing here calls or links the declared symbols directly.
struct Api {
#define OVTF_OV_FUNCTIONS(X)                                                        \
  X(ov_core_create) X(ov_core_free) X(ov_core_read_model) X(ov_model_free)          \
  X(ov_core_compile_model) X(ov_compiled_model_free)                                \
  X(ov_compiled_model_inputs_size) X(ov_compiled_model_outputs_size)                \
  X(ov_compiled_model_input_by_index) X(ov_port_get_element_type)                   \
  X(ov_output_const_port_free) X(ov_compiled_model_create_infer_request)            \
  X(ov_infer_request_free) X(ov_infer_request_set_input_tensor_by_index)            \
  X(ov_infer_request_infer) X(ov_infer_request_get_output_tensor_by_index)          \
  X(ov_tensor_create) X(ov_tensor_create_from_host_ptr) X(ov_tensor_free) X(ov_tensor_data)             \
  X(ov_tensor_get_shape) X(ov_tensor_get_size) X(ov_tensor_get_byte_size) X(ov_shape_free)               \
  X(ov_get_openvino_version) X(ov_version_free) X(ov_get_error_info)                \
  X(ov_core_set_property) X(ov_core_import_model) X(ov_compiled_model_export_model) \
  X(ov_compiled_model_get_property) X(ov_free)
#define OVTF_OV_MEMBER(name) decltype(&::name) name = nullptr;
  OVTF_OV_FUNCTIONS(OVTF_OV_MEMBER)
#undef OVTF_OV_MEMBER
  decltype(&::ov_get_last_err_msg) ov_get_last_err_msg = nullptr;  // optional: older releases
  void* ov_core_compile_model_props = nullptr;  // optional, newer releases: see compile_with
  void* ov_core = nullptr;  // ov_core_t*, one for the process
  std::string version;
};

// Published by load() once complete, core included, and never freed (kernels may outlive
// statics): readers on other threads (kernels' fast paths) take it without the load mutex,
// so the release/acquire pair is what makes them see every field filled in.
std::atomic<const Api*> g_api{nullptr};
std::mutex g_load_mutex;
std::atomic<bool> g_exiting{false};  // leave_to_exit(): free nothing of OpenVINO's any more

const Api& api() {
  const Api* a = g_api.load(std::memory_order_acquire);
  if (a == nullptr) throw std::runtime_error("OpenVINO's C API is not loaded");
  return *a;
}

// Throws with OpenVINO's message if `status` is not OK (`a`: whose messages to read).
void check(const Api& a, ov_status_e status, const char* what) {
  if (status == OK) return;
  std::string message = a.ov_get_error_info ? a.ov_get_error_info(status) : "";
  if (a.ov_get_last_err_msg != nullptr) {
    const char* last = a.ov_get_last_err_msg();
    if (last != nullptr && *last) message += std::string(": ") + last;
  }
  throw std::runtime_error(std::string("OpenVINO ") + what + " failed (status " +
                           std::to_string(static_cast<int>(status)) + "): " + message);
}

void check(ov_status_e status, const char* what) {
  if (status != OK) check(api(), status, what);
}

// ov_core_compile_model_props (newer releases: 2026.4 has it) takes any number of properties
// as an array. It and its pair type are declared here rather than taken from the header, so
// that a build against an older OpenVINO's headers still compiles; the pair has the layout
// of the header's ov_property_t (key, then value: a C string for every property ovtf sets).
struct PropertyPair {
  const char* key;
  const void* value;
};
using CompileModelProps = ov_status_e (*)(const ov_core_t*, const ov_model_t*, const char*,
                                          size_t, const PropertyPair*, ov_compiled_model_t**);

// Older releases only have the C-varargs ov_core_compile_model, whose argument count is fixed
// where it is called: every call passes kVarargPairs pairs' worth of arguments and tells
// OpenVINO how many of them to read (arguments past those are never read: C allows it).
constexpr size_t kVarargPairs = 32;

template <size_t... I>
ov_status_e compile_varargs(const Api& a, const ov_model_t* model, const char* device,
                            size_t pairs, const char* const* args, ov_compiled_model_t** out,
                            std::index_sequence<I...>) {
  return a.ov_core_compile_model(static_cast<const ov_core_t*>(a.ov_core), model, device,
                                 2 * pairs, out, args[I]...);
}

ov_status_e compile_with(const Api& a, const ov_model_t* model, const std::string& device,
                         const Properties& p, ov_compiled_model_t** out) {
  if (a.ov_core_compile_model_props != nullptr) {
    std::vector<PropertyPair> pairs;
    pairs.reserve(p.size());
    for (const auto& [key, value] : p) pairs.push_back({key.c_str(), value.c_str()});
    auto compile = reinterpret_cast<CompileModelProps>(a.ov_core_compile_model_props);
    return compile(static_cast<const ov_core_t*>(a.ov_core), model, device.c_str(), pairs.size(),
                   pairs.empty() ? nullptr : pairs.data(), out);
  }
  if (p.size() > kVarargPairs) {
    throw std::runtime_error("this OpenVINO's C API compiles with at most " +
                             std::to_string(kVarargPairs) + " properties, not " +
                             std::to_string(p.size()) + " (releases with ov_core_compile_model_props take any number)");
  }
  const char* args[2 * kVarargPairs] = {};
  for (size_t i = 0; i < p.size(); ++i) {
    args[2 * i] = p[i].first.c_str();
    args[2 * i + 1] = p[i].second.c_str();
  }
  return compile_varargs(a, model, device.c_str(), p.size(), args, out,
                         std::make_index_sequence<2 * kVarargPairs>());
}

}  // namespace

std::string load(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_load_mutex);
  if (const Api* loaded = g_api.load(std::memory_order_acquire)) return loaded->version;
  // RTLD_LOCAL: OpenVINO's symbols stay out of the global namespace (TF's live there).
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) throw std::runtime_error("cannot load " + path + ": " + dlerror());
  auto a = std::make_unique<Api>();
#define OVTF_OV_LOOKUP(name)                                                           \
  a->name = reinterpret_cast<decltype(a->name)>(dlsym(library, #name));                \
  if (a->name == nullptr) throw std::runtime_error(path + " has no function " #name);
  OVTF_OV_FUNCTIONS(OVTF_OV_LOOKUP)
#undef OVTF_OV_LOOKUP
  a->ov_get_last_err_msg =
      reinterpret_cast<decltype(a->ov_get_last_err_msg)>(dlsym(library, "ov_get_last_err_msg"));
  a->ov_core_compile_model_props = dlsym(library, "ov_core_compile_model_props");
  ov_version_t version;
  if (a->ov_get_openvino_version(&version) == OK) {
    a->version = version.buildNumber ? version.buildNumber : "";
    a->ov_version_free(&version);
  }
  ov_core_t* core = nullptr;
  check(*a, a->ov_core_create(&core), "core creation");
  a->ov_core = core;
  g_api.store(a.release(), std::memory_order_release);  // complete: other threads may use it
  return api().version;
}

bool loaded() { return g_api.load(std::memory_order_acquire) != nullptr; }

void leave_to_exit() { g_exiting.store(true); }

// One pooled infer request, and per input the tensor of its own that small inputs are copied
// into. A large input is handed to OpenVINO in place instead (the request then points at
// that call's TF buffer until the next call sets another; it never reads it in between).
struct Model::Request {
  struct Input {
    ov_tensor_t* own = nullptr;  // allocated by OpenVINO, reused while the dims stay
    void* data = nullptr;
    size_t bytes = 0;
    std::vector<int64_t> dims;
    bool is_set = false;         // the request's input is `own` (not a TF buffer)
  };
  ov_infer_request_t* request = nullptr;
  std::vector<Input> inputs;
  ~Request() {
    if (g_exiting.load()) return;
    for (Input& input : inputs)
      if (input.own != nullptr) api().ov_tensor_free(input.own);
    if (request != nullptr) api().ov_infer_request_free(request);
  }
};

namespace {
// Inputs up to this size are copied into the request's own tensor, larger ones are used in
// place: a copy of 64 KiB costs about what wrapping and setting a tensor does (~8-10 us per
// input inside a TF kernel, benchmarks/cluster_call_cost.py), and a set tensor that stays
// the same is the request's fastest path.
constexpr size_t kCopyLimit = 64 * 1024;
}  // namespace

namespace {
std::mutex g_import_cores_mutex;
// device + properties -> a core whose `device` defaults are exactly those properties
std::map<std::pair<std::string, Properties>, ov_core_t*> g_import_cores;

// ov_core_import_model takes no properties: the model gets the core's defaults for the
// device. Each distinct (device, properties) gets a core of its own with those defaults, so
// one import's settings never leak into another's (or into compile_model's, on the process
// core). Cores are kept for the process's life.
const ov_core_t* import_core(const Api& a, const std::string& device, const Properties& properties) {
  std::lock_guard<std::mutex> lock(g_import_cores_mutex);
  auto key = std::make_pair(device, properties);
  auto found = g_import_cores.find(key);
  if (found != g_import_cores.end()) return found->second;
  ov_core_t* core = nullptr;
  check(a.ov_core_create(&core), "core creation");
  try {
    for (const auto& [name, value] : properties)  // it reads one key/value pair per call
      check(a.ov_core_set_property(core, device.c_str(), name.c_str(), value.c_str()),
            ("set_property " + name).c_str());
  } catch (...) {
    a.ov_core_free(core);
    throw;
  }
  g_import_cores.emplace(std::move(key), core);
  return core;
}
}  // namespace

std::shared_ptr<Model> Model::import(std::string_view blob, const std::string& device,
                                     const Properties& properties) {
  const Api& a = api();
  const ov_core_t* core = import_core(a, device, properties);
  ov_compiled_model_t* compiled = nullptr;
  check(a.ov_core_import_model(core, blob.data(), blob.size(), device.c_str(), &compiled),
        "import_model");
  std::shared_ptr<Model> result = adopt(compiled);
  for (const auto& [name, value] : properties) {  // what the model was compiled with
    char* got = nullptr;
    check(a.ov_compiled_model_get_property(compiled, name.c_str(), &got), "get_property");
    std::string actual = got ? got : "";
    a.ov_free(got);
    if (actual != value) {
      throw std::runtime_error("the imported model has " + name + " " + actual + ", not " + value);
    }
  }
  return result;
}

void Model::export_to(const std::string& path) const {
  check(api().ov_compiled_model_export_model(static_cast<const ov_compiled_model_t*>(compiled_),
                                             path.c_str()),
        "export_model");
}

std::shared_ptr<Model> Model::compile(const std::string& xml, const std::string& bin,
                                      const std::string& device, const Properties& properties) {
  const Api& a = api();
  ov_model_t* model = nullptr;
  check(a.ov_core_read_model(static_cast<const ov_core_t*>(a.ov_core), xml.c_str(), bin.c_str(),
                             &model),
        "read_model");
  ov_compiled_model_t* compiled = nullptr;
  ov_status_e status;
  try {
    status = compile_with(a, model, device, properties, &compiled);
  } catch (...) {
    a.ov_model_free(model);
    throw;
  }
  a.ov_model_free(model);
  check(status, "compile_model");
  return adopt(compiled);
}

std::shared_ptr<Model> Model::adopt(void* compiled_model) {
  const Api& a = api();
  auto compiled = static_cast<ov_compiled_model_t*>(compiled_model);
  std::shared_ptr<Model> result(new Model());
  result->compiled_ = compiled;  // freed by ~Model from here on
  check(a.ov_compiled_model_inputs_size(compiled, &result->num_inputs_), "inputs_size");
  check(a.ov_compiled_model_outputs_size(compiled, &result->num_outputs_), "outputs_size");
  for (size_t i = 0; i < result->num_inputs_; ++i) {
    ov_output_const_port_t* port = nullptr;
    check(a.ov_compiled_model_input_by_index(compiled, i, &port), "input port");
    ov_element_type_e type;
    ov_status_e got = a.ov_port_get_element_type(port, &type);
    a.ov_output_const_port_free(port);
    check(got, "input element type");
    result->input_types_.push_back(static_cast<int>(type));
  }
  return result;
}

Model::~Model() {
  if (g_exiting.load()) {
    for (auto& request : pool_) request.release();  // left to the process's end
    return;
  }
  pool_.clear();
  const Api* a = g_api.load(std::memory_order_acquire);
  if (compiled_ != nullptr && a != nullptr) {
    a->ov_compiled_model_free(static_cast<ov_compiled_model_t*>(compiled_));
  }
}

std::unique_ptr<Model::Request> Model::acquire() {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!pool_.empty()) {
      auto request = std::move(pool_.back());
      pool_.pop_back();
      return request;
    }
  }
  auto request = std::make_unique<Request>();
  request->inputs.resize(num_inputs_);
  check(api().ov_compiled_model_create_infer_request(
            static_cast<ov_compiled_model_t*>(compiled_), &request->request),
        "create_infer_request");
  return request;
}

void Model::release(std::unique_ptr<Request> request) {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  pool_.push_back(std::move(request));
}

namespace {

[[noreturn]] void throw_size_mismatch(size_t input, size_t given, size_t needed) {
  throw std::runtime_error("input " + std::to_string(input) + " has " + std::to_string(given) +
                           " bytes, the model's type needs " + std::to_string(needed));
}

struct TensorHolder {
  ov_tensor_t* tensor = nullptr;
  ~TensorHolder() {
    if (tensor != nullptr) api().ov_tensor_free(tensor);
  }
};

struct ShapeHolder {
  ov_shape_t shape{0, nullptr};
  ~ShapeHolder() {
    if (shape.dims != nullptr) api().ov_shape_free(&shape);
  }
};

}  // namespace

void Model::infer(const std::vector<HostTensor>& inputs,
                  const std::function<void(const std::vector<OutputTensor>&)>& take_outputs) {
  const Api& a = api();
  if (inputs.size() != num_inputs_) {
    throw std::runtime_error("the compiled model has " + std::to_string(num_inputs_) +
                             " inputs, " + std::to_string(inputs.size()) + " given");
  }
  auto request = acquire();
  try {
    std::vector<TensorHolder> wrapped(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      // A plain ov_shape_t over our dims (ov_shape_create refuses rank 0, i.e. scalars).
      static int64_t no_dims[1] = {0};
      ov_shape_t shape{static_cast<int64_t>(inputs[i].dims.size()),
                       inputs[i].dims.empty() ? no_dims
                                              : const_cast<int64_t*>(inputs[i].dims.data())};
      auto type = static_cast<ov_element_type_e>(input_types_[i]);
      Request::Input& own = request->inputs[i];
      if (inputs[i].bytes <= kCopyLimit) {
        if (own.own == nullptr || own.dims != inputs[i].dims) {
          if (own.own != nullptr) a.ov_tensor_free(own.own);
          own = Request::Input();
          check(a.ov_tensor_create(type, shape, &own.own), "tensor_create");
          check(a.ov_tensor_get_byte_size(own.own, &own.bytes), "tensor_get_byte_size");
          if (own.bytes) check(a.ov_tensor_data(own.own, &own.data), "tensor_data");
          own.dims = inputs[i].dims;
        }
        if (own.bytes != inputs[i].bytes) throw_size_mismatch(i, inputs[i].bytes, own.bytes);
        if (own.bytes) std::memcpy(own.data, inputs[i].data, own.bytes);
        if (!own.is_set) {
          check(a.ov_infer_request_set_input_tensor_by_index(request->request, i, own.own),
                "set_input_tensor");
          own.is_set = true;
        }
        continue;
      }
      check(a.ov_tensor_create_from_host_ptr(type, shape, inputs[i].data, &wrapped[i].tensor),
            "tensor_create_from_host_ptr");  // (an empty input is always copied, never here)
      size_t bytes = 0;
      check(a.ov_tensor_get_byte_size(wrapped[i].tensor, &bytes), "tensor_get_byte_size");
      if (bytes != inputs[i].bytes) throw_size_mismatch(i, inputs[i].bytes, bytes);
      check(a.ov_infer_request_set_input_tensor_by_index(request->request, i, wrapped[i].tensor),
            "set_input_tensor");
      own.is_set = false;
    }
    check(a.ov_infer_request_infer(request->request), "infer");
    std::vector<TensorHolder> held(num_outputs_);
    std::vector<OutputTensor> outputs(num_outputs_);
    for (size_t i = 0; i < num_outputs_; ++i) {
      check(a.ov_infer_request_get_output_tensor_by_index(request->request, i, &held[i].tensor),
            "get_output_tensor");
      ShapeHolder shape;
      ov_status_e got = a.ov_tensor_get_shape(held[i].tensor, &shape.shape);
      size_t elements = 0;
      if (got == INVALID_C_PARAM && a.ov_tensor_get_size(held[i].tensor, &elements) == OK &&
          elements == 1) {
        shape.shape = {0, nullptr};  // a scalar: the C API cannot express rank 0 as a shape
      } else {
        check(got, "tensor_get_shape");
      }
      outputs[i].dims.assign(shape.shape.dims, shape.shape.dims + shape.shape.rank);
      check(a.ov_tensor_get_byte_size(held[i].tensor, &outputs[i].bytes), "tensor_get_byte_size");
      void* data = nullptr;
      if (outputs[i].bytes > 0) check(a.ov_tensor_data(held[i].tensor, &data), "tensor_data");
      outputs[i].data = data;
    }
    take_outputs(outputs);
  } catch (...) {
    release(std::move(request));
    throw;
  }
  release(std::move(request));
}

}  // namespace ovtf_openvino
