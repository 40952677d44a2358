// The forward kernel of multi-scale deformable attention and the types it shares with the
// backward, free of torch so that the onnxruntime custom-op library
// (simdistill/deployment/onnxruntime_ops) compiles the same code as the PyTorch operator.
// Semantics and layouts: ms_deform_attn.cpp and ../README.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace simdistill {
namespace deformable_attention {

struct Sizes {
  int64_t B, K, M, D, Q, L, P;
};

struct Level {
  int64_t H, W, start;
};

// The levels of `num_levels` (H, W) pairs (row-major int64), their keys in turn. Returns why
// they cannot describe `num_keys` keys, or an empty string.
inline std::string levels_from_shapes(const int64_t* hw, int64_t num_levels, int64_t num_keys,
                                      std::vector<Level>& levels) {
  levels.resize(num_levels);
  int64_t start = 0;
  for (int64_t l = 0; l < num_levels; ++l) {
    if (hw[2 * l] < 0 || hw[2 * l + 1] < 0) {
      return "level " + std::to_string(l) + " has a negative size (" + std::to_string(hw[2 * l]) +
             ", " + std::to_string(hw[2 * l + 1]) + ")";
    }
    levels[l] = Level{hw[2 * l], hw[2 * l + 1], start};
    start += hw[2 * l] * hw[2 * l + 1];
  }
  if (start != num_keys) {
    return "value has " + std::to_string(num_keys) + " keys, the spatial shapes sum to " +
           std::to_string(start);
  }
  return "";
}

// The four taps of one bilinear sample. Taps outside the map get weight 0 and read `zero_row`
// (D zeros), so the arithmetic below runs without branches and never reads out of range.
template <typename scalar_t>
struct Taps {
  const scalar_t* row[4];  // (y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)
  scalar_t w[4];
  int64_t key[4];          // -1 outside the map
  scalar_t fx, fy;         // fractional position inside the tap square

  // (ix, iy): pixel coordinates (Samples::pixel). Returns false when no tap can be inside
  // the map (also for NaN locations).
  bool init(scalar_t ix, scalar_t iy, const Level& lv, const scalar_t* level_value,
            int64_t key_stride, const scalar_t* zero_row) {
    // ix == -1 still has a tap at x = 0 (with weight 0, but a non-zero location gradient).
    if (!(ix >= scalar_t(-1) && ix < scalar_t(lv.W) && iy >= scalar_t(-1) &&
          iy < scalar_t(lv.H))) {
      return false;
    }
    // floor by truncation and a correction: std::floor is a libm call without SSE4.1
    int64_t x0 = int64_t(ix), y0 = int64_t(iy);
    x0 -= scalar_t(x0) > ix;
    y0 -= scalar_t(y0) > iy;
    fx = ix - scalar_t(x0);
    fy = iy - scalar_t(y0);
    const scalar_t gx = scalar_t(1) - fx, gy = scalar_t(1) - fy;
    w[0] = gy * gx;
    w[1] = gy * fx;
    w[2] = fy * gx;
    w[3] = fy * fx;
    key[0] = y0 * lv.W + x0;
    key[1] = key[0] + 1;
    key[2] = key[0] + lv.W;
    key[3] = key[2] + 1;
    if (x0 >= 0 && x0 + 1 < lv.W && y0 >= 0 && y0 + 1 < lv.H) {  // the common case
      for (int t = 0; t < 4; ++t) row[t] = level_value + key[t] * key_stride;
      return true;
    }
    for (int t = 0; t < 4; ++t) {
      const int64_t yy = y0 + (t >> 1), xx = x0 + (t & 1);
      if (yy >= 0 && yy < lv.H && xx >= 0 && xx < lv.W) {
        row[t] = level_value + key[t] * key_stride;
      } else {
        key[t] = -1;
        w[t] = scalar_t(0);
        row[t] = zero_row;
      }
    }
    return true;
  }
};

// Where the samples are: normalised locations (B, Q, M, L, P, 2), or, with reference points
// (B, Q, L, 2), offsets in pixels of each level around them (mmcv's 2-D reference points:
// location = reference + offset / (W, H)), so the locations are never materialised.
template <typename scalar_t>
struct Samples {
  const scalar_t* locations;  // or offsets
  const scalar_t* weights;
  const scalar_t* reference;  // null: locations are normalised
  int64_t L;

  // Pixel coordinates of sample i (query bq, level l) as grid_sample, align_corners=False,
  // reads them: pixel centres sit at (i + 0.5) / size.
  void pixel(int64_t i, int64_t bq, int64_t l, const Level& lv, scalar_t& ix,
             scalar_t& iy) const {
    const scalar_t W = scalar_t(lv.W), H = scalar_t(lv.H);
    if (reference == nullptr) {
      ix = locations[2 * i] * W - scalar_t(0.5);
      iy = locations[2 * i + 1] * H - scalar_t(0.5);
    } else {
      const scalar_t* r = reference + 2 * (bq * L + l);
      ix = r[0] * W - scalar_t(0.5) + locations[2 * i];
      iy = r[1] * H - scalar_t(0.5) + locations[2 * i + 1];
    }
  }

  // d ix / d locations[2 * i] (and likewise for y with H).
  scalar_t scale(int64_t size) const { return reference == nullptr ? scalar_t(size) : 1; }
};

// kD > 0: the channels per head as a compile-time constant (the loops over them unroll and
// the output row stays in registers); kD == 0: any s.D.
template <typename scalar_t, int64_t kD>
void forward_kernel(const scalar_t* value, const std::vector<Level>& levels,
                    const Samples<scalar_t>& sm, const Sizes& s, scalar_t* out, int threads) {
  const int64_t D = kD > 0 ? kD : s.D, row_stride = s.M * D;
  const std::vector<scalar_t> zero_row(D, scalar_t(0));
  // dynamic: on a loaded machine a descheduled thread does not hold up the whole pass
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
  for (int64_t bq = 0; bq < s.B * s.Q; ++bq) {
    const scalar_t* value_b = value + (bq / s.Q) * s.K * row_stride;
    Taps<scalar_t> taps;
    for (int64_t m = 0; m < s.M; ++m) {
      scalar_t fixed[kD > 0 ? kD : 1];
      scalar_t* acc = kD > 0 ? fixed : out + bq * row_stride + m * D;
      std::fill(acc, acc + D, scalar_t(0));
      const int64_t first = (bq * s.M + m) * s.L * s.P;  // (b, q, m, 0, 0)
      for (int64_t l = 0; l < s.L; ++l) {
        const Level& lv = levels[l];
        const scalar_t* level_value = value_b + lv.start * row_stride + m * D;
        for (int64_t p = 0; p < s.P; ++p) {
          const int64_t i = first + l * s.P + p;
          scalar_t ix, iy;
          sm.pixel(i, bq, l, lv, ix, iy);
          if (!taps.init(ix, iy, lv, level_value, row_stride, zero_row.data())) continue;
          const scalar_t a = sm.weights[i];
          const scalar_t c0 = a * taps.w[0], c1 = a * taps.w[1], c2 = a * taps.w[2],
                         c3 = a * taps.w[3];
          const scalar_t *r0 = taps.row[0], *r1 = taps.row[1], *r2 = taps.row[2],
                         *r3 = taps.row[3];
#pragma omp simd
          for (int64_t d = 0; d < D; ++d) {
            acc[d] += c0 * r0[d] + c1 * r1[d] + c2 * r2[d] + c3 * r3[d];
          }
        }
      }
      if (kD > 0) std::copy(fixed, fixed + D, out + bq * row_stride + m * D);
    }
  }
}

// Calls body(std::integral_constant<int64_t, kD>) with kD = D for common head sizes, else 0.
template <typename Body>
void dispatch_head_dims(int64_t D, Body&& body) {
  switch (D) {
    case 4: body(std::integral_constant<int64_t, 4>()); break;  // 32 channels, 8 heads (CPU)
    case 8: body(std::integral_constant<int64_t, 8>()); break;
    case 10: body(std::integral_constant<int64_t, 10>()); break;  // 80 channels, 8 heads
    case 16: body(std::integral_constant<int64_t, 16>()); break;
    case 32: body(std::integral_constant<int64_t, 32>()); break;  // 256 channels, 8 heads
    default: body(std::integral_constant<int64_t, 0>()); break;
  }
}

}  // namespace deformable_attention
}  // namespace simdistill
