// Multi-scale deformable attention: operator schemas and the CPU kernels (OpenMP).
//
// Semantics of mmcv's multi_scale_deformable_attn_pytorch (see ../README.md): every
// (batch b, query q, head m) sums, over levels l and points p, the attention weight times the
// bilinear sample of head m's value map of level l at the point's location, as grid_sample
// with align_corners=False and zero padding reads it: a tap outside the map contributes 0.
//
// Layouts (all contiguous; M heads, D channels per head, K keys = sum of H_l * W_l):
//   value      (B, K, M, D)        keys of level l start at level_start[l], row-major (y, x)
//   locations  (B, Q, M, L, P, 2)  normalised (x, y): 0 and 1 are the map's outer edges; or,
//                                  with reference points (B, Q, L, 2), offsets in pixels
//   weights    (B, Q, M, L, P)
//   out        (B, Q, M * D)
//
// Forward: one task per (b, q) row of the output, which the task owns. Backward: the
// location/weight gradients of (b, q, m) are written by whoever handles (b, q, m); the value
// gradient is a scatter, so every task accumulates into a value gradient buffer of its own
// and a second pass sums the buffers (no atomics; deterministic for a given split). Two
// splits: by query (tasks (b, chunk of queries); memory order, one (K, M, D) buffer per chunk,
// none with one chunk per sample) and by head (tasks (b, m, chunk); a (K, D) buffer each).
#include <algorithm>
#include <optional>
#include <type_traits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ms_deform_attn_forward.h"

#ifndef SIMDISTILL_MSDA_NS
#define SIMDISTILL_MSDA_NS simdistill_deformable_attention
#endif

// TORCH_LIBRARY pastes its namespace argument, so expand our macro one level first.
#define SIMDISTILL_LIBRARY(ns, m) TORCH_LIBRARY(ns, m)
#define SIMDISTILL_LIBRARY_IMPL(ns, k, m) TORCH_LIBRARY_IMPL(ns, k, m)

namespace simdistill {
namespace deformable_attention {
namespace {

std::vector<Level> read_levels(const at::Tensor& spatial_shapes, int64_t num_keys) {
  TORCH_CHECK(spatial_shapes.device().is_cpu() && spatial_shapes.dim() == 2 &&
                  spatial_shapes.size(1) == 2,
              "value_spatial_shapes must be a CPU (levels, 2) tensor, got shape ",
              spatial_shapes.sizes(), " on ", spatial_shapes.device());
  const at::Tensor shapes = spatial_shapes.to(at::kLong).contiguous();
  std::vector<Level> levels;
  const std::string error =
      levels_from_shapes(shapes.data_ptr<int64_t>(), shapes.size(0), num_keys, levels);
  TORCH_CHECK(error.empty(), error);
  return levels;
}

void check_values(const at::Tensor& t, const char* name, std::vector<int64_t> shape,
                  const at::Tensor& like) {
  TORCH_CHECK(t.device().is_cpu(), name, " must be on CPU, got ", t.device());
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), name, " must be ", like.scalar_type(),
              ", got ", t.scalar_type());
  TORCH_CHECK(t.is_contiguous() && t.sizes() == at::IntArrayRef(shape), name,
              " must be contiguous with shape ", at::IntArrayRef(shape), ", got ", t.sizes(),
              t.is_contiguous() ? "" : " (not contiguous)");
}

Sizes check_inputs(const at::Tensor& value, const at::Tensor& locations,
                   const at::Tensor& weights) {
  TORCH_CHECK(value.dim() == 4, "value must be (B, K, heads, head_dims), got shape ",
              value.sizes());
  TORCH_CHECK(value.scalar_type() == at::kFloat || value.scalar_type() == at::kDouble,
              "value must be float32 or float64, got ", value.scalar_type());
  TORCH_CHECK(locations.dim() == 6 && locations.size(5) == 2,
              "sampling_locations must be (B, Q, heads, levels, points, 2), got shape ",
              locations.sizes());
  const Sizes s{value.size(0), value.size(1), value.size(2), value.size(3),
                locations.size(1), locations.size(3), locations.size(4)};
  check_values(value, "value", {s.B, s.K, s.M, s.D}, value);
  check_values(locations, "sampling_locations", {s.B, s.Q, s.M, s.L, s.P, 2}, value);
  check_values(weights, "attention_weights", {s.B, s.Q, s.M, s.L, s.P}, value);
  return s;
}

// One sample's gradients: the weight and location gradients at index i, and (gv not null)
// a * w_t * g added to the value gradient rows of its taps, gv + key * gv_stride.
template <typename scalar_t, int64_t kD>
inline void sample_backward(const Taps<scalar_t>& taps, const Level& lv,
                            const Samples<scalar_t>& sm, scalar_t a, const scalar_t* g,
                            int64_t D, int64_t i, scalar_t* grad_locations,
                            scalar_t* grad_weights, scalar_t* gv, int64_t gv_stride) {
  if (kD > 0) D = kD;
  scalar_t dot0 = 0, dot1 = 0, dot2 = 0, dot3 = 0;  // <value at tap t, g>
  const scalar_t *r0 = taps.row[0], *r1 = taps.row[1], *r2 = taps.row[2], *r3 = taps.row[3];
#pragma omp simd reduction(+ : dot0, dot1, dot2, dot3)
  for (int64_t d = 0; d < D; ++d) {
    dot0 += r0[d] * g[d];
    dot1 += r1[d] * g[d];
    dot2 += r2[d] * g[d];
    dot3 += r3[d] * g[d];
  }
  const scalar_t fx = taps.fx, fy = taps.fy;
  grad_weights[i] = taps.w[0] * dot0 + taps.w[1] * dot1 + taps.w[2] * dot2 + taps.w[3] * dot3;
  // d sample / d ix and d iy, then through Samples::pixel
  const scalar_t d_ix = (scalar_t(1) - fy) * (dot1 - dot0) + fy * (dot3 - dot2);
  const scalar_t d_iy = (scalar_t(1) - fx) * (dot2 - dot0) + fx * (dot3 - dot1);
  grad_locations[2 * i] = a * sm.scale(lv.W) * d_ix;
  grad_locations[2 * i + 1] = a * sm.scale(lv.H) * d_iy;
  if (gv == nullptr) return;
  for (int t = 0; t < 4; ++t) {
    if (taps.key[t] < 0) continue;
    const scalar_t ct = a * taps.w[t];
    scalar_t* dst = gv + taps.key[t] * gv_stride;
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) dst[d] += ct * g[d];
  }
}

// The gradients of query q's head m (all levels and points); gv points at the value gradient
// row of key 0, head m (rows gv_stride apart), or is null.
template <typename scalar_t, int64_t kD>
inline void query_head_backward(const scalar_t* grad_out, const scalar_t* value_b,
                                const std::vector<Level>& levels, const Samples<scalar_t>& sm,
                                const Sizes& s, int64_t b, int64_t q,
                                int64_t m, const scalar_t* zero_row, scalar_t* grad_locations,
                                scalar_t* grad_weights, scalar_t* gv, int64_t gv_stride) {
  const int64_t D = kD > 0 ? kD : s.D, row_stride = s.M * D;
  const int64_t bqm = (b * s.Q + q) * s.M + m;
  scalar_t fixed[kD > 0 ? kD : 1];  // grad_out[b, q, m, :] in registers when kD > 0
  const scalar_t* g = grad_out + bqm * D;
  if (kD > 0) g = std::copy(g, g + D, fixed) - D;
  Taps<scalar_t> taps;
  for (int64_t l = 0; l < s.L; ++l) {
    const Level& lv = levels[l];
    for (int64_t p = 0; p < s.P; ++p) {
      const int64_t i = (bqm * s.L + l) * s.P + p;
      scalar_t ix, iy;
      sm.pixel(i, b * s.Q + q, l, lv, ix, iy);
      if (!taps.init(ix, iy, lv, value_b + lv.start * row_stride + m * D, row_stride,
                     zero_row)) {
        grad_weights[i] = grad_locations[2 * i] = grad_locations[2 * i + 1] = 0;
        continue;
      }
      sample_backward<scalar_t, kD>(taps, lv, sm, sm.weights[i], g, D, i, grad_locations,
                                    grad_weights,
                                    gv == nullptr ? nullptr : gv + lv.start * gv_stride,
                                    gv_stride);
    }
  }
}

// grad_value = the sum of the chunks' buffers: by query, partial is (B, chunks, K, M, D); by
// head, (B, M, chunks, K, D).
template <typename scalar_t>
void sum_partials(const scalar_t* partial, const Sizes& s, int64_t chunks, bool by_head,
                  scalar_t* grad_value) {
  const int64_t D = s.D, row_stride = s.M * D;
#pragma omp parallel for num_threads(at::get_num_threads()) schedule(static)
  for (int64_t bk = 0; bk < s.B * s.K; ++bk) {
    const int64_t b = bk / s.K, k = bk % s.K;
    for (int64_t m = 0; m < (by_head ? s.M : 1); ++m) {
      const int64_t n = by_head ? D : row_stride;  // values summed per block row
      const int64_t chunk_size = s.K * n;
      scalar_t* dst = grad_value + bk * row_stride + m * D;
      const scalar_t* src = partial + ((b * (by_head ? s.M : 1) + m) * chunks) * chunk_size +
                            k * n;
      std::copy(src, src + n, dst);
      for (int64_t c = 1; c < chunks; ++c) {
        const scalar_t* more = src + c * chunk_size;
#pragma omp simd
        for (int64_t d = 0; d < n; ++d) dst[d] += more[d];
      }
    }
  }
}

// Backward by query: one task per (b, chunk of queries), every head of a query in turn, so
// locations, weights and gradients are read and written in memory order (as the forward).
// A chunk's value gradient goes to its own (K, M, D) buffer, or straight into grad_value when
// each batch is one chunk.
template <typename scalar_t, int64_t kD>
void backward_by_query(const scalar_t* grad_out, const scalar_t* value,
                       const std::vector<Level>& levels, const Samples<scalar_t>& sm,
                       const Sizes& s, int64_t chunks,
                       scalar_t* grad_value, scalar_t* grad_locations, scalar_t* grad_weights) {
  const int64_t row_stride = s.M * s.D, KMD = s.K * row_stride;
  const int64_t per_chunk = (s.Q + chunks - 1) / chunks;
  const std::vector<scalar_t> zero_row(s.D, scalar_t(0));
  const bool direct = chunks == 1;
  std::vector<scalar_t> partial(grad_value != nullptr && !direct ? s.B * chunks * KMD : 0);
#pragma omp parallel for num_threads(at::get_num_threads()) schedule(dynamic, 1)
  for (int64_t task = 0; task < s.B * chunks; ++task) {
    const int64_t b = task / chunks, c = task % chunks;
    scalar_t* gv = grad_value == nullptr ? nullptr
                   : direct            ? grad_value + b * KMD
                                       : partial.data() + task * KMD;
    if (gv != nullptr) std::fill(gv, gv + KMD, scalar_t(0));
    for (int64_t q = c * per_chunk; q < std::min(s.Q, (c + 1) * per_chunk); ++q) {
      for (int64_t m = 0; m < s.M; ++m) {
        query_head_backward<scalar_t, kD>(grad_out, value + b * KMD, levels, sm, s, b, q, m,
                                          zero_row.data(), grad_locations, grad_weights,
                                          gv == nullptr ? nullptr : gv + m * s.D, row_stride);
      }
    }
  }
  if (grad_value != nullptr && !direct) sum_partials(partial.data(), s, chunks, false, grad_value);
}

// Backward by head: one task per (b, m, chunk of queries), which owns a contiguous (K, D)
// value gradient buffer. More tasks than by query without a buffer per thread, but each task
// reads a head's slice of every query, a whole query apart in memory.
template <typename scalar_t, int64_t kD>
void backward_by_head(const scalar_t* grad_out, const scalar_t* value,
                      const std::vector<Level>& levels, const Samples<scalar_t>& sm,
                      const Sizes& s, int64_t chunks,
                      scalar_t* grad_value, scalar_t* grad_locations, scalar_t* grad_weights) {
  const int64_t row_stride = s.M * s.D, KD = s.K * s.D;
  const int64_t per_chunk = (s.Q + chunks - 1) / chunks;
  const int64_t tasks = s.B * s.M * chunks;
  const std::vector<scalar_t> zero_row(s.D, scalar_t(0));
  std::vector<scalar_t> partial(grad_value != nullptr ? tasks * KD : 0);
#pragma omp parallel for num_threads(at::get_num_threads()) schedule(dynamic, 1)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t b = task / (s.M * chunks), m = (task / chunks) % s.M, c = task % chunks;
    scalar_t* gv = grad_value != nullptr ? partial.data() + task * KD : nullptr;
    if (gv != nullptr) std::fill(gv, gv + KD, scalar_t(0));
    for (int64_t q = c * per_chunk; q < std::min(s.Q, (c + 1) * per_chunk); ++q) {
      query_head_backward<scalar_t, kD>(grad_out, value + b * s.K * row_stride, levels, sm, s,
                                        b, q, m, zero_row.data(), grad_locations,
                                        grad_weights, gv, s.D);
    }
  }
  if (grad_value != nullptr) sum_partials(partial.data(), s, chunks, true, grad_value);
}

template <typename scalar_t>
Samples<scalar_t> samples(const at::Tensor& locations, const at::Tensor& weights,
                          const std::optional<at::Tensor>& reference, const Sizes& s) {
  return Samples<scalar_t>{locations.data_ptr<scalar_t>(), weights.data_ptr<scalar_t>(),
                           reference.has_value() ? reference->data_ptr<scalar_t>() : nullptr,
                           s.L};
}

void forward_cpu(const at::Tensor& value, const at::Tensor& spatial_shapes,
                 const at::Tensor& locations, const at::Tensor& weights,
                 const std::optional<at::Tensor>& reference, const at::Tensor& out) {
  const Sizes s = check_inputs(value, locations, weights);
  const std::vector<Level> levels = read_levels(spatial_shapes, s.K);
  if (reference.has_value()) {
    check_values(*reference, "reference_points", {s.B, s.Q, s.L, 2}, value);
  }
  check_values(out, "out", {s.B, s.Q, s.M * s.D}, value);
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "ms_deform_attn_forward_cpu", [&] {
    dispatch_head_dims(s.D, [&](auto kD) {
      forward_kernel<scalar_t, decltype(kD)::value>(
          value.data_ptr<scalar_t>(), levels, samples<scalar_t>(locations, weights, reference, s),
          s, out.data_ptr<scalar_t>(), at::get_num_threads());
    });
  });
}

// split: 1 by query, 2 by head, 0 automatic; chunks: query chunks per task group, 0 automatic.
void backward_cpu(const at::Tensor& grad_out, const at::Tensor& value,
                  const at::Tensor& spatial_shapes, const at::Tensor& locations,
                  const at::Tensor& weights, const std::optional<at::Tensor>& reference,
                  int64_t split, int64_t chunks, const std::optional<at::Tensor>& grad_value,
                  const at::Tensor& grad_locations, const at::Tensor& grad_weights) {
  const Sizes s = check_inputs(value, locations, weights);
  const std::vector<Level> levels = read_levels(spatial_shapes, s.K);
  if (reference.has_value()) {
    check_values(*reference, "reference_points", {s.B, s.Q, s.L, 2}, value);
  }
  check_values(grad_out, "grad_out", {s.B, s.Q, s.M * s.D}, value);
  check_values(grad_locations, "grad_locations", {s.B, s.Q, s.M, s.L, s.P, 2}, value);
  check_values(grad_weights, "grad_weights", {s.B, s.Q, s.M, s.L, s.P}, value);
  if (grad_value.has_value()) {
    check_values(*grad_value, "grad_value", {s.B, s.K, s.M, s.D}, value);
  }
  TORCH_CHECK(split >= 0 && split <= 2, "split must be 0 (auto), 1 (query) or 2 (head), got ",
              split);
  TORCH_CHECK(chunks >= 0, "chunks must be >= 0 (0: automatic), got ", chunks);
  const int64_t threads = at::get_num_threads(), B = std::max<int64_t>(1, s.B);
  // By query reads memory in order but needs a private value gradient per extra chunk; past
  // 4 threads per sample that memory traffic outgrows the gain, and by head splits instead.
  const bool by_head = split == 2 || (split == 0 && threads > 4 * B);
  if (chunks == 0) {  // enough tasks for every thread
    const int64_t groups = by_head ? B * std::max<int64_t>(1, s.M) : B;
    chunks = (threads + groups - 1) / groups;
  }
  chunks = std::max<int64_t>(1, std::min(chunks, s.Q));
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "ms_deform_attn_backward_cpu", [&] {
    scalar_t* gv = grad_value.has_value() ? grad_value->data_ptr<scalar_t>() : nullptr;
    dispatch_head_dims(s.D, [&](auto kD) {
      constexpr int64_t D = decltype(kD)::value;
      (by_head ? backward_by_head<scalar_t, D> : backward_by_query<scalar_t, D>)(
          grad_out.data_ptr<scalar_t>(), value.data_ptr<scalar_t>(), levels,
          samples<scalar_t>(locations, weights, reference, s), s, chunks, gv,
          grad_locations.data_ptr<scalar_t>(), grad_weights.data_ptr<scalar_t>());
    });
  });
}

}  // namespace
}  // namespace deformable_attention
}  // namespace simdistill

SIMDISTILL_LIBRARY(SIMDISTILL_MSDA_NS, m) {
  m.def(
      "forward(Tensor value, Tensor spatial_shapes, Tensor sampling_locations, "
      "Tensor attention_weights, Tensor? reference_points, Tensor(a!) out) -> ()");
  m.def(
      "backward(Tensor grad_out, Tensor value, Tensor spatial_shapes, "
      "Tensor sampling_locations, Tensor attention_weights, Tensor? reference_points, "
      "int split, int chunks, "
      "Tensor(a!)? grad_value, Tensor(b!) grad_locations, Tensor(c!) grad_weights) -> ()");
}

SIMDISTILL_LIBRARY_IMPL(SIMDISTILL_MSDA_NS, CPU, m) {
  using namespace simdistill::deformable_attention;
  m.impl("forward", &forward_cpu);
  m.impl("backward", &backward_cpu);
}
