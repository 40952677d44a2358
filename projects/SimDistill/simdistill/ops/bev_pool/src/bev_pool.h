// Shared declarations of the BEV pool kernels: operator namespace and argument checks.
//
// Index conventions (see ../README.md):
//   P  frustum points inside the grid, in plan order (sorted by BEV cell)
//   I  intervals: runs of points that share a cell; starts/lengths index plan order, cells are
//      global cells b * K + k, strictly increasing
//   K  cells per sample (Z * Y * X); BEV tensors are (B, C, K), i.e. (B, C, Z, Y, X) flattened
//   G  feature groups: the points that read one feature row, for the context gradient;
//      grad_cells (I, C) holds grad_out at each interval's cell, read through group_intervals
//   T  tiles: runs of tile_cells consecutive cells of one sample (the last one of a sample may
//      be shorter); tile_offsets (B * ceil(K / tile_cells) + 1,) gives the first interval of
//      each tile, the last entry being I
// Values of the index tensors are validated once, in Python, when a plan is built.
#pragma once

#include <ATen/ATen.h>
#include <torch/library.h>

#include <optional>

#ifndef SIMDISTILL_BEV_POOL_NS
#define SIMDISTILL_BEV_POOL_NS simdistill_bev_pool
#endif

// TORCH_LIBRARY pastes its namespace argument, so expand our macro one level first.
#define SIMDISTILL_LIBRARY(ns, m) TORCH_LIBRARY(ns, m)
#define SIMDISTILL_LIBRARY_IMPL(ns, k, m) TORCH_LIBRARY_IMPL(ns, k, m)

namespace simdistill {
namespace bev_pool {

inline void check_index(const at::Tensor& t, const char* name, const at::Tensor& like) {
  TORCH_CHECK(t.scalar_type() == at::kInt, name, " must be int32, got ", t.scalar_type());
  TORCH_CHECK(t.dim() == 1 && t.is_contiguous(), name, " must be 1-D contiguous, got shape ",
              t.sizes());
  TORCH_CHECK(t.device() == like.device(), name, " is on ", t.device(), ", expected ",
              like.device());
}

inline void check_values(const at::Tensor& t, const char* name, int64_t dim,
                         const at::Tensor& like) {
  TORCH_CHECK(at::isFloatingType(t.scalar_type()), name, " must be floating point, got ",
              t.scalar_type());
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), name, " must be ", like.scalar_type(),
              ", got ", t.scalar_type());
  TORCH_CHECK(t.dim() == dim && t.is_contiguous(), name, " must be ", dim,
              "-D contiguous, got shape ", t.sizes());
  TORCH_CHECK(t.device() == like.device(), name, " is on ", t.device(), ", expected ",
              like.device());
}

inline void check_same_length(const at::Tensor& a, const char* a_name, const at::Tensor& b,
                              const char* b_name) {
  TORCH_CHECK(a.size(0) == b.size(0), a_name, " and ", b_name, " differ in length: ", a.size(0),
              " vs ", b.size(0));
}

inline void check_intervals(const at::Tensor& starts, const at::Tensor& lengths,
                            const at::Tensor& cells, const at::Tensor& like) {
  check_index(starts, "interval_starts", like);
  check_index(lengths, "interval_lengths", like);
  check_index(cells, "interval_cells", like);
  check_same_length(starts, "interval_starts", lengths, "interval_lengths");
  check_same_length(starts, "interval_starts", cells, "interval_cells");
}

inline void check_tiles(const at::Tensor& offsets, int64_t tile_cells, const at::Tensor& bev) {
  check_index(offsets, "tile_offsets", bev);
  TORCH_CHECK(tile_cells > 0, "tile_cells must be positive, got ", tile_cells);
  const int64_t tiles = bev.size(0) * ((bev.size(2) + tile_cells - 1) / tile_cells);
  TORCH_CHECK(offsets.numel() == tiles + 1, "tile_offsets has ", offsets.numel(),
              " entries, expected ", tiles + 1, " for ", bev.size(0), " x ", bev.size(2),
              " cells in tiles of ", tile_cells);
}

inline void check_fused_forward(const at::Tensor& depth, const at::Tensor& feat,
                                const at::Tensor& ranks_depth, const at::Tensor& ranks_feat,
                                const at::Tensor& starts, const at::Tensor& lengths,
                                const at::Tensor& cells, const at::Tensor& tile_offsets,
                                int64_t tile_cells, const at::Tensor& out) {
  check_values(depth, "depth", 1, depth);
  check_values(feat, "feat", 2, depth);
  check_index(ranks_depth, "ranks_depth", depth);
  check_index(ranks_feat, "ranks_feat", depth);
  check_same_length(ranks_depth, "ranks_depth", ranks_feat, "ranks_feat");
  check_intervals(starts, lengths, cells, depth);
  check_values(out, "out", 3, depth);
  TORCH_CHECK(out.size(1) == feat.size(1), "out has ", out.size(1), " channels, feat has ",
              feat.size(1));
  check_tiles(tile_offsets, tile_cells, out);
}

inline void check_fused_backward_depth(const at::Tensor& grad_out, const at::Tensor& feat,
                                       const at::Tensor& ranks_depth,
                                       const at::Tensor& ranks_feat, const at::Tensor& starts,
                                       const at::Tensor& lengths, const at::Tensor& cells,
                                       const at::Tensor& tile_offsets, int64_t tile_cells,
                                       const at::Tensor& grad_depth,
                                       const std::optional<at::Tensor>& grad_cells) {
  check_values(grad_out, "grad_out", 3, grad_out);
  check_values(feat, "feat", 2, grad_out);
  check_index(ranks_depth, "ranks_depth", grad_out);
  check_index(ranks_feat, "ranks_feat", grad_out);
  check_same_length(ranks_depth, "ranks_depth", ranks_feat, "ranks_feat");
  check_intervals(starts, lengths, cells, grad_out);
  check_values(grad_depth, "grad_depth", 1, grad_out);
  TORCH_CHECK(grad_out.size(1) == feat.size(1), "grad_out has ", grad_out.size(1),
              " channels, feat has ", feat.size(1));
  check_tiles(tile_offsets, tile_cells, grad_out);
  if (grad_cells.has_value()) {
    check_values(*grad_cells, "grad_cells", 2, grad_out);
    TORCH_CHECK(grad_cells->size(0) == starts.size(0) && grad_cells->size(1) == grad_out.size(1),
                "grad_cells must have shape (I, C) = (", starts.size(0), ", ", grad_out.size(1),
                "), got ", grad_cells->sizes());
  }
}

inline void check_fused_backward_feat(const at::Tensor& grad_cells, const at::Tensor& depth,
                                      const at::Tensor& ranks_depth, const at::Tensor& intervals,
                                      const at::Tensor& feats, const at::Tensor& starts,
                                      const at::Tensor& lengths, const at::Tensor& grad_feat) {
  check_values(grad_cells, "grad_cells", 2, grad_cells);
  check_values(depth, "depth", 1, grad_cells);
  check_index(ranks_depth, "group_ranks_depth", grad_cells);
  check_index(intervals, "group_intervals", grad_cells);
  check_same_length(ranks_depth, "group_ranks_depth", intervals, "group_intervals");
  check_index(feats, "group_feats", grad_cells);
  check_index(starts, "group_starts", grad_cells);
  check_index(lengths, "group_lengths", grad_cells);
  check_same_length(feats, "group_feats", starts, "group_starts");
  check_same_length(feats, "group_feats", lengths, "group_lengths");
  check_values(grad_feat, "grad_feat", 2, grad_cells);
  TORCH_CHECK(grad_feat.size(1) == grad_cells.size(1), "grad_feat has ", grad_feat.size(1),
              " channels, grad_cells has ", grad_cells.size(1));
}

inline void check_interval_forward(const at::Tensor& x, const at::Tensor& starts,
                                   const at::Tensor& lengths, const at::Tensor& cells,
                                   const at::Tensor& tile_offsets, int64_t tile_cells,
                                   const at::Tensor& out) {
  check_values(x, "x", 2, x);
  check_intervals(starts, lengths, cells, x);
  check_values(out, "out", 3, x);
  TORCH_CHECK(out.size(1) == x.size(1), "out has ", out.size(1), " channels, x has ",
              x.size(1));
  check_tiles(tile_offsets, tile_cells, out);
}

inline void check_interval_backward(const at::Tensor& grad_out, const at::Tensor& starts,
                                    const at::Tensor& lengths, const at::Tensor& cells,
                                    const at::Tensor& tile_offsets, int64_t tile_cells,
                                    const at::Tensor& grad_x) {
  check_values(grad_out, "grad_out", 3, grad_out);
  check_intervals(starts, lengths, cells, grad_out);
  check_values(grad_x, "grad_x", 2, grad_out);
  TORCH_CHECK(grad_x.size(1) == grad_out.size(1), "grad_x has ", grad_x.size(1),
              " channels, grad_out has ", grad_out.size(1));
  check_tiles(tile_offsets, tile_cells, grad_out);
}

}  // namespace bev_pool
}  // namespace simdistill
