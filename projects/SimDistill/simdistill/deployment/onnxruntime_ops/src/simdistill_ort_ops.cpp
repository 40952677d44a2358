// onnxruntime custom ops of SimDistill (domain "simdistill"), CPU, float32: the forward kernels
// the PyTorch operators run (../../../ops/*/src/*_forward.h), behind onnxruntime's C ABI.
//
//   BEVPool(depth (B, N, D, H, W), context_rows (B*N*H*W, C), ranks_depth (P,) int64,
//           ranks_feat (P,) int64, ranks_bev (P,) int64 sorted; attribute cells = Z*Y*X)
//       -> (B, C, cells)
//   MSDeformAttn(value (B, K, M, Dh), spatial_shapes (L, 2) int64,
//                sampling_offsets (B, Q, M, L, P, 2) pixels, attention_weights (B, Q, M, L, P),
//                reference_points (B, Q, L, 2)) -> (B, Q, M*Dh)
//
// The pool builds the plan's intervals and tiles from the sorted ranks on every call (one pass
// over P, which also checks every index), so the graph takes the same three plan inputs as
// its stock form. Errors are thrown as std::runtime_error naming the op, the input and the
// shape; onnxruntime reports them as the run's failure.
#include <omp.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "bev_pool_forward.h"
#include "ms_deform_attn_forward.h"
#include "ort_api.h"

namespace {

using simdistill::ort::Api;
using simdistill::ort::ElementType;

const Api* g_api = nullptr;

// Bounds of an output tile of the pool: 64 cells of C channels stay in L1/L2 (as in PyTorch).
constexpr int64_t kTileCells = 64;

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

[[noreturn]] void fail(const char* op, const std::string& what) {
  throw std::runtime_error(std::string("simdistill::") + op + ": " + what);
}

struct Input {
  const void* data;
  std::vector<int64_t> shape;
  ElementType type;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  const float* floats() const { return static_cast<const float*>(data); }
  const int64_t* int64s() const { return static_cast<const int64_t*>(data); }
};

Input input(OrtKernelContext* ctx, size_t index, const char* op, const char* name,
            ElementType expected, size_t rank) {
  const OrtValue* value = g_api->input(ctx, index);
  Input in{nullptr, g_api->shape(value), g_api->element_type(value)};
  in.data = g_api->data(const_cast<OrtValue*>(value));
  if (in.type != expected) {
    fail(op, std::string(name) + " must be " +
                 (expected == ElementType::kFloat ? "float32" : "int64") +
                 ", got ONNX element type " + std::to_string(int(in.type)));
  }
  if (rank && in.shape.size() != rank) {
    fail(op, std::string(name) + " must have " + std::to_string(rank) + " dimensions, got " +
                 shape_string(in.shape));
  }
  return in;
}

// ---------------------------------------------------------------------------------------------
struct BEVPoolKernel {
  int64_t cells;
};

void bev_pool_compute(void* kernel, OrtKernelContext* ctx) {
  const char* op = "BEVPool";
  const int64_t K = static_cast<BEVPoolKernel*>(kernel)->cells;
  const Input depth = input(ctx, 0, op, "depth", ElementType::kFloat, 5);
  const Input rows = input(ctx, 1, op, "context_rows", ElementType::kFloat, 2);
  const Input rd = input(ctx, 2, op, "ranks_depth", ElementType::kInt64, 1);
  const Input rf = input(ctx, 3, op, "ranks_feat", ElementType::kInt64, 1);
  const Input rb = input(ctx, 4, op, "ranks_bev", ElementType::kInt64, 1);
  const int64_t B = depth.shape[0], C = rows.shape[1], P = rd.shape[0];
  if (rf.shape[0] != P || rb.shape[0] != P) {
    fail(op, "ranks_depth, ranks_feat and ranks_bev differ in length: " +
                 shape_string(rd.shape) + ", " + shape_string(rf.shape) + ", " +
                 shape_string(rb.shape));
  }
  const int64_t depth_size = depth.numel(), num_rows = rows.shape[0];
  if (depth_size >= INT32_MAX || num_rows >= INT32_MAX || B * K >= INT32_MAX) {
    fail(op, "more than 2^31 - 1 depth values, context rows or cells");
  }
  // int32 ranks for the kernel; intervals (runs of one cell) and each tile's first interval
  std::vector<int32_t> ranks_depth(P), ranks_feat(P), starts, lengths, interval_cells;
  const int64_t per_sample = (K + kTileCells - 1) / kTileCells;
  std::vector<int32_t> tile_offsets;
  tile_offsets.reserve(B * per_sample + 1);
  const int64_t* bev = rb.int64s();
  int64_t previous = -1;
  for (int64_t p = 0; p < P; ++p) {
    const int64_t d = rd.int64s()[p], f = rf.int64s()[p], c = bev[p];
    if (d < 0 || d >= depth_size || f < 0 || f >= num_rows || c < 0 || c >= B * K) {
      fail(op, "point " + std::to_string(p) + " indexes out of range: ranks_depth " +
                   std::to_string(d) + " (depth has " + std::to_string(depth_size) +
                   "), ranks_feat " + std::to_string(f) + " (" + std::to_string(num_rows) +
                   " rows), ranks_bev " + std::to_string(c) + " (" + std::to_string(B * K) +
                   " cells)");
    }
    if (c < previous) fail(op, "ranks_bev is not sorted at point " + std::to_string(p));
    ranks_depth[p] = int32_t(d);
    ranks_feat[p] = int32_t(f);
    if (c != previous) {
      // tiles whose first cell lies in (previous, c] start at this interval
      const int64_t interval = int64_t(starts.size());
      while (int64_t(tile_offsets.size()) < B * per_sample) {
        const int64_t t = int64_t(tile_offsets.size());
        const int64_t first_cell = (t / per_sample) * K + (t % per_sample) * kTileCells;
        if (first_cell > c) break;
        tile_offsets.push_back(int32_t(interval));
      }
      starts.push_back(int32_t(p));
      lengths.push_back(0);
      interval_cells.push_back(int32_t(c));
      previous = c;
    }
    ++lengths.back();
  }
  while (int64_t(tile_offsets.size()) <= B * per_sample) {
    tile_offsets.push_back(int32_t(starts.size()));
  }
  const int64_t out_shape[3] = {B, C, K};
  float* out = static_cast<float*>(g_api->data(g_api->output(ctx, 0, out_shape, 3)));
  const simdistill::bev_pool::GatheredPoints<float> points{
      depth.floats(), rows.floats(), ranks_depth.data(), ranks_feat.data(), P, C};
  const simdistill::bev_pool::Tiles tiles{starts.data(), lengths.data(), interval_cells.data(),
                                          tile_offsets.data(), kTileCells, per_sample,
                                          B * per_sample, P, B, C, K};
  simdistill::bev_pool::forward_tiles(points, tiles, out, omp_get_max_threads());
}

void* bev_pool_create(const OrtCustomOp*, const void*, const OrtKernelInfo* info) {
  const int64_t cells = g_api->attribute_int64(info, "cells");
  if (cells <= 0) fail("BEVPool", "attribute cells must be > 0, got " + std::to_string(cells));
  return new BEVPoolKernel{cells};
}

void bev_pool_destroy(void* kernel) { delete static_cast<BEVPoolKernel*>(kernel); }

// ---------------------------------------------------------------------------------------------
void msda_compute(void*, OrtKernelContext* ctx) {
  const char* op = "MSDeformAttn";
  namespace da = simdistill::deformable_attention;
  const Input value = input(ctx, 0, op, "value", ElementType::kFloat, 4);
  const Input shapes = input(ctx, 1, op, "spatial_shapes", ElementType::kInt64, 2);
  const Input offsets = input(ctx, 2, op, "sampling_offsets", ElementType::kFloat, 6);
  const Input weights = input(ctx, 3, op, "attention_weights", ElementType::kFloat, 5);
  const Input reference = input(ctx, 4, op, "reference_points", ElementType::kFloat, 4);
  const da::Sizes s{value.shape[0], value.shape[1], value.shape[2], value.shape[3],
                    offsets.shape[1], offsets.shape[3], offsets.shape[4]};
  const std::vector<int64_t> want_offsets{s.B, s.Q, s.M, s.L, s.P, 2},
      want_weights{s.B, s.Q, s.M, s.L, s.P}, want_reference{s.B, s.Q, s.L, 2},
      want_shapes{s.L, 2};
  if (offsets.shape != want_offsets) {
    fail(op, "sampling_offsets must be " + shape_string(want_offsets) + ", got " +
                 shape_string(offsets.shape));
  }
  if (weights.shape != want_weights) {
    fail(op, "attention_weights must be " + shape_string(want_weights) + ", got " +
                 shape_string(weights.shape));
  }
  if (reference.shape != want_reference) {
    fail(op, "reference_points must be " + shape_string(want_reference) + ", got " +
                 shape_string(reference.shape));
  }
  if (shapes.shape != want_shapes) {
    fail(op, "spatial_shapes must be " + shape_string(want_shapes) + ", got " +
                 shape_string(shapes.shape));
  }
  std::vector<da::Level> levels;
  const std::string error = da::levels_from_shapes(shapes.int64s(), s.L, s.K, levels);
  if (!error.empty()) fail(op, error);
  const int64_t out_shape[3] = {s.B, s.Q, s.M * s.D};
  float* out = static_cast<float*>(g_api->data(g_api->output(ctx, 0, out_shape, 3)));
  const da::Samples<float> samples{offsets.floats(), weights.floats(), reference.floats(), s.L};
  const int threads = omp_get_max_threads();
  da::dispatch_head_dims(s.D, [&](auto kD) {
    da::forward_kernel<float, decltype(kD)::value>(value.floats(), levels, samples, s, out,
                                                   threads);
  });
}

void* msda_create(const OrtCustomOp*, const void*, const OrtKernelInfo*) {
  return new int(0);  // no state; onnxruntime wants a kernel object
}

void msda_destroy(void* kernel) { delete static_cast<int*>(kernel); }

// ---------------------------------------------------------------------------------------------
// What differs between the two ops; make_op fills onnxruntime's struct from it.
template <int kOp>
struct OpTraits;

template <>
struct OpTraits<0> {
  static constexpr const char* name = "BEVPool";
  static constexpr ElementType inputs[5] = {ElementType::kFloat, ElementType::kFloat,
                                            ElementType::kInt64, ElementType::kInt64,
                                            ElementType::kInt64};
  static constexpr auto create = &bev_pool_create;
  static constexpr auto compute = &bev_pool_compute;
  static constexpr auto destroy = &bev_pool_destroy;
};

template <>
struct OpTraits<1> {
  static constexpr const char* name = "MSDeformAttn";
  static constexpr ElementType inputs[5] = {ElementType::kFloat, ElementType::kInt64,
                                            ElementType::kFloat, ElementType::kFloat,
                                            ElementType::kFloat};
  static constexpr auto create = &msda_create;
  static constexpr auto compute = &msda_compute;
  static constexpr auto destroy = &msda_destroy;
};

template <int kOp>
simdistill::ort::CustomOp make_op() {
  using T = OpTraits<kOp>;
  simdistill::ort::CustomOp op{};
  op.version = simdistill::ort::kCustomOpVersion;
  op.CreateKernel = T::create;
  op.GetName = [](const OrtCustomOp*) { return T::name; };
  op.GetExecutionProviderType = [](const OrtCustomOp*) -> const char* { return nullptr; };
  op.GetInputType = [](const OrtCustomOp*, size_t i) { return T::inputs[i]; };
  op.GetInputTypeCount = [](const OrtCustomOp*) -> size_t { return 5; };
  op.GetOutputType = [](const OrtCustomOp*, size_t) { return ElementType::kFloat; };
  op.GetOutputTypeCount = [](const OrtCustomOp*) -> size_t { return 1; };
  op.KernelCompute = T::compute;
  op.KernelDestroy = T::destroy;
  op.GetInputCharacteristic = [](const OrtCustomOp*, size_t) {
    return simdistill::ort::Characteristic::kRequired;
  };
  op.GetOutputCharacteristic = [](const OrtCustomOp*, size_t) {
    return simdistill::ort::Characteristic::kRequired;
  };
  op.GetInputMemoryType = [](const OrtCustomOp*, size_t) { return 0; };  // OrtMemTypeDefault
  op.GetVariadicInputMinArity = [](const OrtCustomOp*) { return 1; };  // no variadic inputs
  op.GetVariadicInputHomogeneity = [](const OrtCustomOp*) { return 1; };
  op.GetVariadicOutputMinArity = [](const OrtCustomOp*) { return 1; };
  op.GetVariadicOutputHomogeneity = [](const OrtCustomOp*) { return 1; };
  return op;
}

// onnxruntime keeps pointers to the ops and the domain for as long as sessions use them.
simdistill::ort::CustomOp g_bev_pool = make_op<0>();
simdistill::ort::CustomOp g_msda = make_op<1>();

}  // namespace

extern "C" __attribute__((visibility("default"))) OrtStatus* RegisterCustomOps(
    OrtSessionOptions* options, const OrtApiBase* base) {
  static Api api(base);
  g_api = &api;
  return api.register_domain(options, "simdistill", {&g_bev_pool, &g_msda});
}
