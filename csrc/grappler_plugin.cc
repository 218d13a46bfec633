// The grappler plugin: TF_InitGraph registers an optimizer for the CPU device that passes each
// serialized GraphDef, with its fetch and preserve lists, to ovtf's Python rewriter
// (None = unchanged) and hands TensorFlow back the rewritten graph.

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "bridge.h"

namespace ovtf_bridge {

PyObject* g_rewriter = nullptr;
TF_TriState g_remapping = TF_TriState_Default;
std::atomic<bool> g_plugin_initialized{false};
std::atomic<long> g_optimizer_calls{0};

namespace {

// False (and `out` untouched) when there is no memory for the copy.
bool copy_to_buffer(const void* data, size_t length, TF_Buffer* out) {
  void* copy = std::malloc(length ? length : 1);
  if (copy == nullptr) return false;
  std::memcpy(copy, data, length);
  out->data = copy;
  out->length = length;
  out->data_deallocator = [](void* data, size_t) { std::free(data); };
  return true;
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

// The rewritten graph, or false to keep TensorFlow's (GIL not held).
bool rewrite(const TF_Buffer* graph, const TF_GrapplerItem* item, TF_Buffer* out,
             bool* out_of_memory) {
  auto fetch = node_list(item, TF_GetFetchNodesListSize, TF_GetFetchNodesList);
  auto preserve = node_list(item, TF_GetNodesToPreserveListSize, TF_GetNodesToPreserveList);
  PythonLock gil;
  if (g_rewriter == nullptr) return false;
  try {
    py::object rewriter = py::reinterpret_borrow<py::object>(g_rewriter);
    py::object result = rewriter(
        py::bytes(static_cast<const char*>(graph->data), graph->length), fetch, preserve);
    if (result.is_none()) return false;
    char* data = nullptr;
    Py_ssize_t length = 0;
    if (PyBytes_AsStringAndSize(result.ptr(), &data, &length) != 0) {
      PyErr_Clear();
      return false;
    }
    if (copy_to_buffer(data, static_cast<size_t>(length), out)) return true;
    *out_of_memory = true;
  } catch (py::error_already_set& error) {
    // The Python rewriter logs its own failures; this only guards against a broken one.
    error.discard_as_unraisable("ovtf graph rewriter");
  }
  return false;
}

void optimize(void*, const TF_Buffer* graph, const TF_GrapplerItem* item, TF_Buffer* out,
              TF_Status* status) {
  g_optimizer_calls.fetch_add(1, std::memory_order_relaxed);
  TF_SetStatus(status, TF_OK, "");
  // An error status makes grappler log it and keep the graph it had: nothing is lost, and
  // nothing may be thrown through TensorFlow's C frames.
  try {
    bool out_of_memory = false;
    if (!t_in_fallback && Py_IsInitialized() && rewrite(graph, item, out, &out_of_memory)) return;
    if (!out_of_memory && copy_to_buffer(graph->data, graph->length, out)) return;
    TF_SetStatus(status, TF_RESOURCE_EXHAUSTED,
                 ("ovtf: no memory for a graph of " + std::to_string(graph->length) + " bytes")
                     .c_str());
  } catch (std::exception& error) {
    TF_SetStatus(status, TF_INTERNAL, (std::string("ovtf graph rewriter: ") + error.what()).c_str());
  }
}

}  // namespace
}  // namespace ovtf_bridge

// Called by TensorFlow when the library is loaded as a pluggable device library.
extern "C" __attribute__((visibility("default"))) void TF_InitGraph(
    TP_OptimizerRegistrationParams* params, TF_Status* status) {
  params->struct_size = TP_OPTIMIZER_REGISTRATION_PARAMS_STRUCT_SIZE;
  params->device_type = "CPU";
  params->optimizer_configs->struct_size = TP_OPTIMIZER_CONFIGS_STRUCT_SIZE;
  params->optimizer_configs->remapping = ovtf_bridge::g_remapping;
  params->optimizer->struct_size = TP_OPTIMIZER_STRUCT_SIZE;
  params->optimizer->create_func = nullptr;
  params->optimizer->optimize_func = ovtf_bridge::optimize;
  params->optimizer->destroy_func = nullptr;
  ovtf_bridge::g_plugin_initialized.store(true);
  TF_SetStatus(status, TF_OK, "");
}
