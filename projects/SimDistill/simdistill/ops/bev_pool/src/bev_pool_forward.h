// The BEV pool's forward kernel and the point and tile types it shares with the backward,
// free of torch so that the onnxruntime custom-op library (simdistill/deployment/onnxruntime_ops)
// compiles the same code as the PyTorch operator. Conventions: bev_pool.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace simdistill {
namespace bev_pool {

// Rows are read in random order, which leaves the loops waiting on cache misses; fetching the
// row kPrefetch points ahead hides most of that latency.
#ifndef SIMDISTILL_PREFETCH_DISTANCE
#define SIMDISTILL_PREFETCH_DISTANCE 16
#endif
constexpr int64_t kPrefetch = SIMDISTILL_PREFETCH_DISTANCE;

template <typename scalar_t>
inline void prefetch_row(const scalar_t* row, int64_t C) {
#if defined(__GNUC__)
  constexpr int64_t kLine = 64 / sizeof(scalar_t);
  for (int64_t c = 0; c < C; c += kLine) __builtin_prefetch(row + c);
#endif
}

template <typename scalar_t>
inline void prefetch_value(const scalar_t* value) {
#if defined(__GNUC__)
  __builtin_prefetch(value);
#endif
}

// <a, b> over C values, with independent partial sums (one long add chain would stall).
template <typename scalar_t>
inline scalar_t dot(const scalar_t* a, const scalar_t* b, int64_t C) {
  constexpr int64_t kParts = 16;
  scalar_t part[kParts] = {};
  int64_t c = 0;
  for (; c + kParts <= C; c += kParts) {
    for (int64_t j = 0; j < kParts; ++j) part[j] += a[c + j] * b[c + j];
  }
  scalar_t s = 0;
  for (; c < C; ++c) s += a[c] * b[c];
  for (int64_t j = 0; j < kParts; ++j) s += part[j];
  return s;
}

// Points whose weighted rows are summed: the fused forward (weight depth[ranks_depth[p]], row
// feat[ranks_feat[p]]), the interval forward (weight 1, row x[p]) and the context gradient
// (weight depth[ranks_depth[q]], row grad_cells[intervals[q]]).
template <typename scalar_t>
struct GatheredPoints {
  const scalar_t* weights;
  const scalar_t* rows;
  const int32_t* weight_index;
  const int32_t* row_index;
  int64_t num_points;
  int64_t C;

  scalar_t weight(int64_t p) const { return weights[weight_index[p]]; }
  const scalar_t* row(int64_t p) const { return rows + int64_t(row_index[p]) * C; }
  void prefetch(int64_t p) const {
    if (p < num_points) {
      prefetch_row(row(p), C);
      prefetch_value(weights + weight_index[p]);
    }
  }
};

template <typename scalar_t>
struct FrustumPoints {
  const scalar_t* x;
  int64_t C;

  scalar_t weight(int64_t) const { return scalar_t(1); }
  const scalar_t* row(int64_t p) const { return x + p * C; }
  void prefetch(int64_t) const {}  // rows are read in order: the hardware prefetches them
};

// a[0:C] += sum over p in [begin, end) of point.weight(p) * point.row(p)[0:C]. Four points per
// pass: the accumulator row is loaded and stored once per four points, not once per point.
template <typename scalar_t, typename Points>
inline void accumulate_rows(const Points& pt, int64_t begin, int64_t end, int64_t C,
                            scalar_t* a) {
  int64_t p = begin;
  for (; p + 4 <= end; p += 4) {
    for (int64_t j = 0; j < 4; ++j) pt.prefetch(p + kPrefetch + j);
    const scalar_t w0 = pt.weight(p), w1 = pt.weight(p + 1), w2 = pt.weight(p + 2),
                   w3 = pt.weight(p + 3);
    const scalar_t *r0 = pt.row(p), *r1 = pt.row(p + 1), *r2 = pt.row(p + 2),
                   *r3 = pt.row(p + 3);
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) a[c] += w0 * r0[c] + w1 * r1[c] + w2 * r2[c] + w3 * r3[c];
  }
  for (; p < end; ++p) {
    pt.prefetch(p + kPrefetch);
    const scalar_t w = pt.weight(p);
    const scalar_t* r = pt.row(p);
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) a[c] += w * r[c];
  }
}

// The intervals and tiles of a plan, and the (B, C, K) layout of the BEV tensor.
struct Tiles {
  const int32_t* starts;
  const int32_t* lengths;
  const int32_t* cells;
  const int32_t* offsets;  // first interval of each tile, then I
  int64_t tile_cells;
  int64_t per_sample;  // tiles per sample
  int64_t count;       // tiles in all
  int64_t num_points;
  int64_t B, C, K;
};

// Sums the points of every interval into its cell (Points: GatheredPoints or FrustumPoints).
template <typename scalar_t, typename Points>
void forward_tiles(const Points& points, const Tiles& tl, scalar_t* out, int threads) {
  const int64_t C = tl.C;
#pragma omp parallel num_threads(threads)
  {
    std::vector<scalar_t> acc(tl.tile_cells * C);
#pragma omp for schedule(dynamic, 4)
    for (int64_t tile = 0; tile < tl.count; ++tile) {
      const int64_t b = tile / tl.per_sample;
      const int64_t k0 = (tile % tl.per_sample) * tl.tile_cells;
      const int64_t n = std::min(tl.tile_cells, tl.K - k0);
      const int64_t g0 = b * tl.K + k0;
      std::fill(acc.begin(), acc.begin() + n * C, scalar_t(0));
      for (int64_t i = tl.offsets[tile]; i < tl.offsets[tile + 1]; ++i) {
        const int64_t start = tl.starts[i];
        accumulate_rows(points, start, start + tl.lengths[i], C,
                        acc.data() + (tl.cells[i] - g0) * C);
      }
      for (int64_t c = 0; c < C; ++c) {
        scalar_t* o = out + (b * C + c) * tl.K + k0;
        for (int64_t t = 0; t < n; ++t) o[t] = acc[t * C + c];
      }
    }
  }
}

}  // namespace bev_pool
}  // namespace simdistill
