// The part of onnxruntime's C ABI a custom-op library needs, declared here because the
// onnxruntime Python wheel ships no C headers.
//
// onnxruntime's C API is a struct of function pointers (OrtApi) that only ever grows at the
// end, and a custom op is a struct of function pointers (OrtCustomOp) whose `version` tells the
// runtime how many of its members exist. So a member's position is a stable fact of the ABI:
// the positions below are those of onnxruntime_c_api.h at API versions 13, 14 and 24 (read in
// microsoft/onnxruntime; identical in all three). We ask for API version kApiVersion (ORT 1.14,
// 2023) and declare OrtCustomOp's members up to that version. tests/test_deployment checks a
// graph of each op against PyTorch through a live onnxruntime, so a wrong position fails there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {
struct OrtStatus;
struct OrtValue;
struct OrtKernelInfo;
struct OrtKernelContext;
struct OrtSessionOptions;
struct OrtCustomOpDomain;
struct OrtTensorTypeAndShapeInfo;
struct OrtCustomOp;

// OrtApiBase: what RegisterCustomOps receives.
struct OrtApiBase {
  const void* (*GetApi)(uint32_t version);  // the OrtApi table of that version, or null
  const char* (*GetVersionString)();
};
}

namespace simdistill {
namespace ort {

constexpr uint32_t kApiVersion = 14;
constexpr uint32_t kCustomOpVersion = 14;

enum class ElementType : int { kFloat = 1, kInt32 = 6, kInt64 = 7 };  // ONNXTensorElementDataType
enum class Characteristic : int { kRequired = 0, kOptional = 1, kVariadic = 2 };

// Positions of the OrtApi members used (0-based slots of its function-pointer table).
enum Slot : size_t {
  kCreateStatus = 0,
  kGetErrorMessage = 2,
  kCreateCustomOpDomain = 26,
  kCustomOpDomainAdd = 27,
  kAddCustomOpDomain = 28,
  kGetTensorMutableData = 51,
  kGetTensorElementType = 60,
  kGetDimensionsCount = 61,
  kGetDimensions = 62,
  kGetTensorTypeAndShape = 65,
  kKernelInfoGetAttributeInt64 = 86,
  kKernelContextGetInput = 90,
  kKernelContextGetOutput = 91,
  kReleaseStatus = 93,
  kReleaseTensorTypeAndShapeInfo = 99,
};

// OrtCustomOp up to version 14: every member a function pointer after `version`.
struct CustomOp {
  uint32_t version;
  void* (*CreateKernel)(const OrtCustomOp* op, const void* api, const OrtKernelInfo* info);
  const char* (*GetName)(const OrtCustomOp* op);
  const char* (*GetExecutionProviderType)(const OrtCustomOp* op);
  ElementType (*GetInputType)(const OrtCustomOp* op, size_t index);
  size_t (*GetInputTypeCount)(const OrtCustomOp* op);
  ElementType (*GetOutputType)(const OrtCustomOp* op, size_t index);
  size_t (*GetOutputTypeCount)(const OrtCustomOp* op);
  void (*KernelCompute)(void* kernel, OrtKernelContext* context);
  void (*KernelDestroy)(void* kernel);
  Characteristic (*GetInputCharacteristic)(const OrtCustomOp* op, size_t index);   // v8
  Characteristic (*GetOutputCharacteristic)(const OrtCustomOp* op, size_t index);  // v8
  int (*GetInputMemoryType)(const OrtCustomOp* op, size_t index);                 // v13
  int (*GetVariadicInputMinArity)(const OrtCustomOp* op);                         // v14
  int (*GetVariadicInputHomogeneity)(const OrtCustomOp* op);                      // v14
  int (*GetVariadicOutputMinArity)(const OrtCustomOp* op);                        // v14
  int (*GetVariadicOutputHomogeneity)(const OrtCustomOp* op);                     // v14
};

// Typed calls into the OrtApi table; a failing call throws with onnxruntime's message.
class Api {
 public:
  explicit Api(const OrtApiBase* base)
      : table_(static_cast<const void* const*>(base->GetApi(kApiVersion))) {
    if (table_ == nullptr) {
      throw std::runtime_error(std::string("simdistill onnxruntime ops need C API version ") +
                               std::to_string(kApiVersion) + " (onnxruntime >= 1.14), this is " +
                               base->GetVersionString());
    }
  }

  const OrtValue* input(OrtKernelContext* ctx, size_t index) const {
    const OrtValue* value = nullptr;
    check(call<OrtStatus* (*)(const OrtKernelContext*, size_t, const OrtValue**)>(
        kKernelContextGetInput)(ctx, index, &value));
    return value;
  }

  OrtValue* output(OrtKernelContext* ctx, size_t index, const int64_t* dims,
                   size_t rank) const {
    OrtValue* value = nullptr;
    check(call<OrtStatus* (*)(OrtKernelContext*, size_t, const int64_t*, size_t, OrtValue**)>(
        kKernelContextGetOutput)(ctx, index, dims, rank, &value));
    return value;
  }

  void* data(OrtValue* value) const {
    void* out = nullptr;
    check(call<OrtStatus* (*)(OrtValue*, void**)>(kGetTensorMutableData)(value, &out));
    return out;
  }

  std::vector<int64_t> shape(const OrtValue* value) const {
    OrtTensorTypeAndShapeInfo* info = type_and_shape(value);
    size_t rank = 0;
    check(call<OrtStatus* (*)(const OrtTensorTypeAndShapeInfo*, size_t*)>(kGetDimensionsCount)(
        info, &rank));
    std::vector<int64_t> dims(rank);
    check(call<OrtStatus* (*)(const OrtTensorTypeAndShapeInfo*, int64_t*, size_t)>(
        kGetDimensions)(info, dims.data(), rank));
    release(info);
    return dims;
  }

  ElementType element_type(const OrtValue* value) const {
    OrtTensorTypeAndShapeInfo* info = type_and_shape(value);
    int type = 0;
    check(call<OrtStatus* (*)(const OrtTensorTypeAndShapeInfo*, int*)>(kGetTensorElementType)(
        info, &type));
    release(info);
    return static_cast<ElementType>(type);
  }

  int64_t attribute_int64(const OrtKernelInfo* info, const char* name) const {
    int64_t out = 0;
    check(call<OrtStatus* (*)(const OrtKernelInfo*, const char*, int64_t*)>(
        kKernelInfoGetAttributeInt64)(info, name, &out));
    return out;
  }

  // Adds `ops` to a new domain on `options`; returns onnxruntime's status (null: success).
  OrtStatus* register_domain(OrtSessionOptions* options, const char* name,
                             std::initializer_list<const CustomOp*> ops) const {
    OrtCustomOpDomain* domain = nullptr;  // owned by onnxruntime's sessions from here on
    if (OrtStatus* s = call<OrtStatus* (*)(const char*, OrtCustomOpDomain**)>(
            kCreateCustomOpDomain)(name, &domain)) {
      return s;
    }
    for (const CustomOp* op : ops) {
      if (OrtStatus* s = call<OrtStatus* (*)(OrtCustomOpDomain*, const OrtCustomOp*)>(
              kCustomOpDomainAdd)(domain, reinterpret_cast<const OrtCustomOp*>(op))) {
        return s;
      }
    }
    return call<OrtStatus* (*)(OrtSessionOptions*, OrtCustomOpDomain*)>(kAddCustomOpDomain)(
        options, domain);
  }

 private:
  template <typename Fn>
  Fn call(Slot slot) const {
    return reinterpret_cast<Fn>(const_cast<void*>(table_[slot]));
  }

  OrtTensorTypeAndShapeInfo* type_and_shape(const OrtValue* value) const {
    OrtTensorTypeAndShapeInfo* info = nullptr;
    check(call<OrtStatus* (*)(const OrtValue*, OrtTensorTypeAndShapeInfo**)>(
        kGetTensorTypeAndShape)(value, &info));
    return info;
  }

  void release(OrtTensorTypeAndShapeInfo* info) const {
    call<void (*)(OrtTensorTypeAndShapeInfo*)>(kReleaseTensorTypeAndShapeInfo)(info);
  }

  void check(OrtStatus* status) const {
    if (status == nullptr) return;
    const std::string message =
        call<const char* (*)(const OrtStatus*)>(kGetErrorMessage)(status);
    call<void (*)(OrtStatus*)>(kReleaseStatus)(status);
    throw std::runtime_error("onnxruntime: " + message);
  }

  const void* const* table_;
};

}  // namespace ort
}  // namespace simdistill
