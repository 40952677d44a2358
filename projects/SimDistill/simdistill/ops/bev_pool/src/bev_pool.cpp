// BEV pool: operator schemas and the CPU kernels (OpenMP).
//
// The tile kernels walk the output in tiles of tile_cells consecutive cells of one sample
// (the plan gives each tile's first interval). Forward sums a tile's intervals into a small
// channels-last buffer that is then written out transposed, so every output cell (empty ones
// as zeros) is written exactly once, with contiguous stores, and no two threads ever touch the
// same cell (no atomics). Backward reads the tile of grad_out once, transposed, and serves
// every point of the tile from it.
#include <algorithm>
#include <vector>

#include <ATen/Parallel.h>

#include "bev_pool.h"
#include "bev_pool_forward.h"

namespace simdistill {
namespace bev_pool {
namespace {

// The tiles of a plan as the kernels read them, for a (B, C, K) BEV tensor.
Tiles make_tiles(const at::Tensor& s, const at::Tensor& l, const at::Tensor& c,
                 const at::Tensor& o, int64_t tile, int64_t points, const at::Tensor& bev) {
  return Tiles{s.data_ptr<int32_t>(), l.data_ptr<int32_t>(), c.data_ptr<int32_t>(),
               o.data_ptr<int32_t>(), tile, (bev.size(2) + tile - 1) / tile, o.numel() - 1,
               points, bev.size(0), bev.size(1), bev.size(2)};
}

// kFused: grad[ranks_depth[p]] = <g[cell(p)], feat[ranks_feat[p]]>; else grad[p, :] = g[cell(p)].
// The tile of grad_out is read once, transposed into a channels-last buffer; with grad_cells,
// row i of it receives g at interval i's cell (for the context gradient).
template <typename scalar_t, bool kFused>
void backward_tiles(const scalar_t* grad_out, const scalar_t* feat, const int32_t* ranks_depth,
                    const int32_t* ranks_feat, const Tiles& tl, scalar_t* grad,
                    scalar_t* grad_cells) {
  const int64_t C = tl.C;
#pragma omp parallel num_threads(at::get_num_threads())
  {
    std::vector<scalar_t> g(tl.tile_cells * C);
#pragma omp for schedule(dynamic, 4)
    for (int64_t tile = 0; tile < tl.count; ++tile) {
      if (tl.offsets[tile] == tl.offsets[tile + 1]) continue;  // no point lands in this tile
      const int64_t b = tile / tl.per_sample;
      const int64_t k0 = (tile % tl.per_sample) * tl.tile_cells;
      const int64_t n = std::min(tl.tile_cells, tl.K - k0);
      const int64_t g0 = b * tl.K + k0;
      for (int64_t c = 0; c < C; ++c) {
        const scalar_t* src = grad_out + (b * C + c) * tl.K + k0;
        for (int64_t t = 0; t < n; ++t) g[t * C + c] = src[t];
      }
      for (int64_t i = tl.offsets[tile]; i < tl.offsets[tile + 1]; ++i) {
        const scalar_t* gi = g.data() + (tl.cells[i] - g0) * C;
        if (grad_cells != nullptr) std::copy(gi, gi + C, grad_cells + i * C);
        const int64_t end = int64_t(tl.starts[i]) + tl.lengths[i];
        for (int64_t p = tl.starts[i]; p < end; ++p) {
          if constexpr (kFused) {
            if (p + kPrefetch < tl.num_points) {
              prefetch_row(feat + int64_t(ranks_feat[p + kPrefetch]) * C, C);
            }
            grad[ranks_depth[p]] = dot(gi, feat + int64_t(ranks_feat[p]) * C, C);
          } else {
            std::copy(gi, gi + C, grad + p * C);
          }
        }
      }
    }
  }
}

// grad_feat[feats[j]] = sum over the group's points q of depth[rd[q]] * grad_cells[iv[q]].
template <typename scalar_t>
void backward_feat_groups(const GatheredPoints<scalar_t>& points, const int32_t* feats,
                          const int32_t* starts, const int32_t* lengths, int64_t groups,
                          int64_t C, scalar_t* grad_feat) {
#pragma omp parallel for num_threads(at::get_num_threads()) schedule(dynamic, 64)
  for (int64_t j = 0; j < groups; ++j) {
    scalar_t* dst = grad_feat + int64_t(feats[j]) * C;  // zero-filled by the caller
    accumulate_rows(points, int64_t(starts[j]), int64_t(starts[j]) + lengths[j], C, dst);
  }
}

void fused_forward_cpu(const at::Tensor& depth, const at::Tensor& feat,
                       const at::Tensor& ranks_depth, const at::Tensor& ranks_feat,
                       const at::Tensor& starts, const at::Tensor& lengths,
                       const at::Tensor& cells, const at::Tensor& tile_offsets,
                       int64_t tile_cells, const at::Tensor& out) {
  check_fused_forward(depth, feat, ranks_depth, ranks_feat, starts, lengths, cells,
                      tile_offsets, tile_cells, out);
  const Tiles tl =
      make_tiles(starts, lengths, cells, tile_offsets, tile_cells, ranks_depth.numel(), out);
  AT_DISPATCH_FLOATING_TYPES(depth.scalar_type(), "fused_forward_cpu", [&] {
    const GatheredPoints<scalar_t> points{depth.data_ptr<scalar_t>(), feat.data_ptr<scalar_t>(),
                                          ranks_depth.data_ptr<int32_t>(),
                                          ranks_feat.data_ptr<int32_t>(), ranks_depth.numel(),
                                          feat.size(1)};
    forward_tiles(points, tl, out.data_ptr<scalar_t>(), at::get_num_threads());
  });
}

void fused_backward_depth_cpu(const at::Tensor& grad_out, const at::Tensor& feat,
                              const at::Tensor& ranks_depth, const at::Tensor& ranks_feat,
                              const at::Tensor& starts, const at::Tensor& lengths,
                              const at::Tensor& cells, const at::Tensor& tile_offsets,
                              int64_t tile_cells, const at::Tensor& grad_depth,
                              const std::optional<at::Tensor>& grad_cells) {
  check_fused_backward_depth(grad_out, feat, ranks_depth, ranks_feat, starts, lengths, cells,
                             tile_offsets, tile_cells, grad_depth, grad_cells);
  const Tiles tl =
      make_tiles(starts, lengths, cells, tile_offsets, tile_cells, ranks_depth.numel(), grad_out);
  AT_DISPATCH_FLOATING_TYPES(grad_out.scalar_type(), "fused_backward_depth_cpu", [&] {
    backward_tiles<scalar_t, true>(grad_out.data_ptr<scalar_t>(), feat.data_ptr<scalar_t>(),
                                   ranks_depth.data_ptr<int32_t>(),
                                   ranks_feat.data_ptr<int32_t>(), tl,
                                   grad_depth.data_ptr<scalar_t>(),
                                   grad_cells ? grad_cells->data_ptr<scalar_t>() : nullptr);
  });
}

void fused_backward_feat_cpu(const at::Tensor& grad_cells, const at::Tensor& depth,
                             const at::Tensor& ranks_depth, const at::Tensor& intervals,
                             const at::Tensor& feats, const at::Tensor& starts,
                             const at::Tensor& lengths, const at::Tensor& grad_feat) {
  check_fused_backward_feat(grad_cells, depth, ranks_depth, intervals, feats, starts, lengths,
                            grad_feat);
  AT_DISPATCH_FLOATING_TYPES(grad_cells.scalar_type(), "fused_backward_feat_cpu", [&] {
    const GatheredPoints<scalar_t> points{depth.data_ptr<scalar_t>(),
                                          grad_cells.data_ptr<scalar_t>(),
                                          ranks_depth.data_ptr<int32_t>(),
                                          intervals.data_ptr<int32_t>(), ranks_depth.numel(),
                                          grad_cells.size(1)};
    backward_feat_groups(points, feats.data_ptr<int32_t>(), starts.data_ptr<int32_t>(),
                         lengths.data_ptr<int32_t>(), feats.numel(), grad_feat.size(1),
                         grad_feat.data_ptr<scalar_t>());
  });
}

void interval_forward_cpu(const at::Tensor& x, const at::Tensor& starts,
                          const at::Tensor& lengths, const at::Tensor& cells,
                          const at::Tensor& tile_offsets, int64_t tile_cells,
                          const at::Tensor& out) {
  check_interval_forward(x, starts, lengths, cells, tile_offsets, tile_cells, out);
  const Tiles tl = make_tiles(starts, lengths, cells, tile_offsets, tile_cells, x.size(0), out);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "interval_forward_cpu", [&] {
    const FrustumPoints<scalar_t> points{x.data_ptr<scalar_t>(), x.size(1)};
    forward_tiles(points, tl, out.data_ptr<scalar_t>(), at::get_num_threads());
  });
}

void interval_backward_cpu(const at::Tensor& grad_out, const at::Tensor& starts,
                           const at::Tensor& lengths, const at::Tensor& cells,
                           const at::Tensor& tile_offsets, int64_t tile_cells,
                           const at::Tensor& grad_x) {
  check_interval_backward(grad_out, starts, lengths, cells, tile_offsets, tile_cells, grad_x);
  const Tiles tl =
      make_tiles(starts, lengths, cells, tile_offsets, tile_cells, grad_x.size(0), grad_out);
  AT_DISPATCH_FLOATING_TYPES(grad_out.scalar_type(), "interval_backward_cpu", [&] {
    backward_tiles<scalar_t, false>(grad_out.data_ptr<scalar_t>(), nullptr, nullptr, nullptr,
                                    tl, grad_x.data_ptr<scalar_t>(), nullptr);
  });
}

}  // namespace
}  // namespace bev_pool
}  // namespace simdistill

// Shapes: depth (Pd,), feat (F, C), ranks_* (P,), interval_* (I,), tile_offsets (T + 1,),
// out/grad_out (B, C, K), grad_cells (I, C), group_* (P,) or (G,), x/grad_x (P, C). The
// operators write into their last argument(s): forward ops write every cell of out,
// interval_backward every row of grad_x; fused_backward_depth/feat write only the entries of
// points in the grid, so the caller zero-fills grad_depth/grad_feat. fused_backward_depth also
// fills grad_cells when given: row i = grad_out at interval i's cell, which
// fused_backward_feat reads. The CUDA kernels need tile_cells = 32.
SIMDISTILL_LIBRARY(SIMDISTILL_BEV_POOL_NS, m) {
  m.def(
      "fused_forward(Tensor depth, Tensor feat, Tensor ranks_depth, Tensor ranks_feat, "
      "Tensor interval_starts, Tensor interval_lengths, Tensor interval_cells, "
      "Tensor tile_offsets, int tile_cells, Tensor(a!) out) -> ()");
  m.def(
      "fused_backward_depth(Tensor grad_out, Tensor feat, Tensor ranks_depth, "
      "Tensor ranks_feat, Tensor interval_starts, Tensor interval_lengths, "
      "Tensor interval_cells, Tensor tile_offsets, int tile_cells, Tensor(a!) grad_depth, "
      "Tensor(b!)? grad_cells) -> ()");
  m.def(
      "fused_backward_feat(Tensor grad_cells, Tensor depth, Tensor group_ranks_depth, "
      "Tensor group_intervals, Tensor group_feats, Tensor group_starts, "
      "Tensor group_lengths, Tensor(a!) grad_feat) -> ()");
  m.def(
      "interval_forward(Tensor x, Tensor interval_starts, Tensor interval_lengths, "
      "Tensor interval_cells, Tensor tile_offsets, int tile_cells, Tensor(a!) out) -> ()");
  m.def(
      "interval_backward(Tensor grad_out, Tensor interval_starts, Tensor interval_lengths, "
      "Tensor interval_cells, Tensor tile_offsets, int tile_cells, Tensor(a!) grad_x) -> ()");
}

SIMDISTILL_LIBRARY_IMPL(SIMDISTILL_BEV_POOL_NS, CPU, m) {
  using namespace simdistill::bev_pool;
  m.impl("fused_forward", &fused_forward_cpu);
  m.impl("fused_backward_depth", &fused_backward_depth_cpu);
  m.impl("fused_backward_feat", &fused_backward_feat_cpu);
  m.impl("interval_forward", &interval_forward_cpu);
  m.impl("interval_backward", &interval_backward_cpu);
}
