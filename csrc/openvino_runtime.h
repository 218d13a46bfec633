// OpenVINO, driven from C++ through its C API, loaded at run time.
//
// The OVTFCluster kernel's fast path runs compiled clusters without Python (see
// fast_path.cc). It talks to OpenVINO through the C API (`openvino/c/openvino.h`), whose
// functions are looked up with dlsym in the libopenvino_c that ships in the `openvino` wheel:
// nothing is linked against one OpenVINO soname, so one ovtf build serves every OpenVINO
// release whose C API has these functions. Element types are never interpreted here: a
// tensor gets its model port's own type, and sizes are compared in bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ovtf_openvino {

// Loads libopenvino_c from `path` (once per process; later calls return the same version).
// Returns OpenVINO's build number. Throws std::runtime_error naming the missing piece.
std::string load(const std::string& path);
bool loaded();

// From now on compiled models and requests are left to the process's end instead of freed:
// called at interpreter exit, since TensorFlow may delete kernels (and with them the last
// references to models) after OpenVINO's own globals are gone.
void leave_to_exit();

using Properties = std::vector<std::pair<std::string, std::string>>;

// One input of an inference: TF-owned memory, used in place (`data` may be null when
// `bytes` is 0).
struct HostTensor {
  void* data;
  std::vector<int64_t> dims;
  size_t bytes;
};

// One output of an inference, valid while `Model::infer`'s callback runs.
struct OutputTensor {
  const void* data;
  std::vector<int64_t> dims;
  size_t bytes;
};

class Model {
 public:
  // Reads the IR at `xml`/`bin` and compiles it for `device` with `properties`.
  static std::shared_ptr<Model> compile(const std::string& xml, const std::string& bin,
                                        const std::string& device, const Properties& properties);
  // Imports a blob that `export_to` (or OpenVINO's Python export_model) wrote, with
  // `properties` as the device's settings; throws unless the imported model reports every
  // one of them with the same value (so a blob never runs with other settings).
  static std::shared_ptr<Model> import(std::string_view blob, const std::string& device,
                                       const Properties& properties);
  void export_to(const std::string& path) const;
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  size_t num_inputs() const { return num_inputs_; }
  size_t num_outputs() const { return num_outputs_; }

  // One inference (thread-safe: each caller takes its own infer request from a pool).
  // `inputs`: one per model input, in order. `take_outputs` gets every output while the
  // request is still held. Throws std::runtime_error with OpenVINO's message.
  void infer(const std::vector<HostTensor>& inputs,
             const std::function<void(const std::vector<OutputTensor>&)>& take_outputs);

  // A retired model (evicted from ovtf's cache) is no longer run by kernel fast paths.
  void retire() { retired_.store(true); }
  bool retired() const { return retired_.load(); }

 private:
  Model() = default;
  static std::shared_ptr<Model> adopt(void* compiled_model);  // takes an ov_compiled_model_t*
  struct Request;
  std::unique_ptr<Request> acquire();
  void release(std::unique_ptr<Request> request);

  void* compiled_ = nullptr;  // ov_compiled_model_t*
  std::vector<int> input_types_;  // ov_element_type_e of each input, as the model says
  size_t num_inputs_ = 0;
  size_t num_outputs_ = 0;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Request>> pool_;
  std::atomic<bool> retired_{false};
};

}  // namespace ovtf_openvino
