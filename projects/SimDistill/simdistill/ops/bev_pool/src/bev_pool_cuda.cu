// BEV pool: CUDA kernels.
//
// Tile kernels (forward, and the backward of grad_depth / grad_x): one block per tile of
// kTileCells consecutive output cells of one sample. The tile's points (a contiguous run of the
// plan, since points are sorted by cell) are split evenly over the block's warps, whatever the
// cells they fall in, so a tile holding a few crowded cells near the ego is not left to one
// warp. Lanes span channels (coalesced reads of channels-last feature rows); each warp fetches
// 32 points' indices at once, broadcasts them with shuffles and issues kUnroll rows' loads
// before using any, so many independent loads are in flight. The tile is staged in shared
// memory and written transposed: stores into the (B, C, K) output are coalesced along the
// cells and every cell, empty ones included, is written exactly once.
// A cell split between two warps is summed deterministically: a warp's first cell goes to a
// per-warp carry row that is added in warp order after the block synchronises.
// The context gradient uses one warp per feature group (the points reading one feature row).
// No kernel uses atomics: every output element has exactly one writer.
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <limits>

#include "bev_pool.h"

namespace simdistill {
namespace bev_pool {
namespace {

constexpr int kWarpSize = 32;
constexpr int kWarps = 8;
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kTileCells = 32;
constexpr int kLaneChannels = 4;
constexpr int kPassChannels = kWarpSize * kLaneChannels;  // channels handled per pass
constexpr int kUnroll = 8;                                // rows loaded before they are used
constexpr unsigned kFullMask = 0xffffffffu;

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset >>= 1) {
    v += __shfl_xor_sync(kFullMask, v, offset);
  }
  return v;
}

// The intervals of one tile (at most one per cell), in shared memory.
struct TileIntervals {
  int start[kTileCells + 1];  // first point of each interval; start[count] = end of the last
  int cell[kTileCells];       // cell of each interval, relative to the tile
  int count;
  int first;  // plan index of the first interval
};

// Fills s with the intervals of this block's tile, whose first cell is g0; call from every
// thread of the block.
__device__ __forceinline__ void load_tile_intervals(const int32_t* __restrict__ starts,
                                                    const int32_t* __restrict__ lengths,
                                                    const int32_t* __restrict__ cells,
                                                    const int32_t* __restrict__ tile_offsets,
                                                    int64_t g0, TileIntervals& s) {
  const int first = tile_offsets[blockIdx.x];
  const int count = tile_offsets[blockIdx.x + 1] - first;  // <= kTileCells: one per cell
  if (threadIdx.x == 0) {
    s.count = count;
    s.first = first;
  }
  if (threadIdx.x < count) {
    const int i = first + threadIdx.x;
    s.start[threadIdx.x] = starts[i];
    s.cell[threadIdx.x] = static_cast<int>(cells[i] - g0);
    if (threadIdx.x == count - 1) s.start[count] = starts[i] + lengths[i];
  }
  __syncthreads();
}

// Cell (relative to the tile) of point p, which must lie in the tile's intervals.
__device__ __forceinline__ int cell_of(const TileIntervals& s, int p) {
  int lo = 0;
  int hi = s.count - 1;
  while (lo < hi) {  // last interval starting at or before p
    const int mid = (lo + hi + 1) >> 1;
    if (s.start[mid] <= p) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return s.cell[lo];
}

// This warp's share [begin, end) of the tile's points.
__device__ __forceinline__ void warp_points(const TileIntervals& s, int warp, int& begin,
                                            int& end) {
  if (s.count == 0) {
    begin = end = 0;
    return;
  }
  const int first = s.start[0];
  const int total = s.start[s.count] - first;
  const int share = (total + kWarps - 1) / kWarps;
  begin = first + min(total, warp * share);
  end = first + min(total, (warp + 1) * share);
}

template <typename acc_t>
__device__ __forceinline__ void store_sum(const acc_t (&acc)[kLaneChannels], int cell,
                                          int first_cell, int warp, int lane,
                                          acc_t (*tile)[kPassChannels + 1],
                                          acc_t (*carry)[kPassChannels], int* carry_cell) {
  // Only a warp's first cell can also hold points of the warp before it.
  acc_t* dst = cell == first_cell ? carry[warp] : tile[cell];
#pragma unroll
  for (int k = 0; k < kLaneChannels; ++k) dst[k * kWarpSize + lane] = acc[k];
  if (cell == first_cell && lane == 0) carry_cell[warp] = cell;
}

// kFused: value(p, c) = depth[ranks_depth[p]] * feat[ranks_feat[p], c]; else feat[p, c] (x).
template <typename scalar_t, bool kFused>
__global__ void __launch_bounds__(kThreads)
    forward_tiles_kernel(const scalar_t* __restrict__ depth, const scalar_t* __restrict__ feat,
                         const int32_t* __restrict__ ranks_depth,
                         const int32_t* __restrict__ ranks_feat,
                         const int32_t* __restrict__ starts, const int32_t* __restrict__ lengths,
                         const int32_t* __restrict__ cells,
                         const int32_t* __restrict__ tile_offsets, int64_t C, int64_t K,
                         int64_t tiles_per_sample, scalar_t* __restrict__ out) {
  using acc_t = at::opmath_type<scalar_t>;
  __shared__ acc_t tile[kTileCells][kPassChannels + 1];  // +1: conflict-free transposed reads
  __shared__ acc_t carry[kWarps][kPassChannels];
  __shared__ int carry_cell[kWarps];
  __shared__ TileIntervals tiv;
  const int64_t b = blockIdx.x / tiles_per_sample;
  const int64_t k0 = (blockIdx.x % tiles_per_sample) * kTileCells;
  const int n = static_cast<int>(min(static_cast<int64_t>(kTileCells), K - k0));
  const int64_t g0 = b * K + k0;
  load_tile_intervals(starts, lengths, cells, tile_offsets, g0, tiv);
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  int begin, end;
  warp_points(tiv, warp, begin, end);

  for (int64_t c0 = 0; c0 < C; c0 += kPassChannels) {
    for (int j = threadIdx.x; j < kTileCells * (kPassChannels + 1); j += kThreads) {
      (&tile[0][0])[j] = acc_t(0);
    }
    if (lane == 0) carry_cell[warp] = -1;
    __syncthreads();
    if (begin < end) {
      const int first_cell = cell_of(tiv, begin);
      int cur = first_cell;
      acc_t acc[kLaneChannels];
#pragma unroll
      for (int k = 0; k < kLaneChannels; ++k) acc[k] = acc_t(0);
      for (int base = begin; base < end; base += kWarpSize) {
        const int q = base + lane;
        int my_row = 0;
        int my_cell = 0;
        acc_t my_d = acc_t(0);
        if (q < end) {
          my_cell = cell_of(tiv, q);
          if constexpr (kFused) {
            my_row = ranks_feat[q];
            my_d = static_cast<acc_t>(depth[ranks_depth[q]]);
          } else {
            my_row = q;
            my_d = acc_t(1);
          }
        }
        const int m = min(kWarpSize, end - base);
        for (int j0 = 0; j0 < m; j0 += kUnroll) {
          acc_t v[kUnroll][kLaneChannels];
          acc_t d[kUnroll];
          int t[kUnroll];
#pragma unroll
          for (int u = 0; u < kUnroll; ++u) {
            const int src = (j0 + u) & (kWarpSize - 1);
            const int64_t row = __shfl_sync(kFullMask, my_row, src);
            d[u] = __shfl_sync(kFullMask, my_d, src);
            t[u] = __shfl_sync(kFullMask, my_cell, src);
#pragma unroll
            for (int k = 0; k < kLaneChannels; ++k) {
              const int64_t c = c0 + k * kWarpSize + lane;
              v[u][k] = j0 + u < m && c < C ? static_cast<acc_t>(feat[row * C + c]) : acc_t(0);
            }
          }
#pragma unroll
          for (int u = 0; u < kUnroll; ++u) {
            if (j0 + u < m) {  // uniform over the warp
              if (t[u] != cur) {
                store_sum(acc, cur, first_cell, warp, lane, tile, carry, carry_cell);
#pragma unroll
                for (int k = 0; k < kLaneChannels; ++k) acc[k] = acc_t(0);
                cur = t[u];
              }
#pragma unroll
              for (int k = 0; k < kLaneChannels; ++k) acc[k] += d[u] * v[u][k];
            }
          }
        }
      }
      store_sum(acc, cur, first_cell, warp, lane, tile, carry, carry_cell);
    }
    __syncthreads();
    for (int w = 0; w < kWarps; ++w) {  // fixed order: deterministic sums
      const int cell = carry_cell[w];
      if (cell >= 0 && threadIdx.x < kPassChannels) {
        tile[cell][threadIdx.x] += carry[w][threadIdx.x];
      }
    }
    __syncthreads();
    const int nc = static_cast<int>(min(static_cast<int64_t>(kPassChannels), C - c0));
    for (int j = threadIdx.x; j < nc * kTileCells; j += kThreads) {
      const int cl = j / kTileCells;
      const int t = j % kTileCells;
      if (t < n) out[(b * C + c0 + cl) * K + k0 + t] = static_cast<scalar_t>(tile[t][cl]);
    }
    __syncthreads();
  }
}

// kFused: grad[ranks_depth[p]] = <grad_out[cell(p)], feat[ranks_feat[p]]>;
// else grad[p, :] = grad_out[cell(p)] (grad of the materialised frustum x).
// With grad_cells, row i of it receives grad_out at interval i's cell.
template <typename scalar_t, bool kFused>
__global__ void __launch_bounds__(kThreads)
    backward_tiles_kernel(const scalar_t* __restrict__ grad_out,
                          const scalar_t* __restrict__ feat,
                          const int32_t* __restrict__ ranks_depth,
                          const int32_t* __restrict__ ranks_feat,
                          const int32_t* __restrict__ starts,
                          const int32_t* __restrict__ lengths,
                          const int32_t* __restrict__ cells,
                          const int32_t* __restrict__ tile_offsets, int64_t C, int64_t K,
                          int64_t tiles_per_sample, scalar_t* __restrict__ grad,
                          scalar_t* __restrict__ grad_cells) {
  using acc_t = at::opmath_type<scalar_t>;
  __shared__ acc_t tile[kTileCells][kPassChannels + 1];
  __shared__ TileIntervals tiv;
  const int64_t b = blockIdx.x / tiles_per_sample;
  const int64_t k0 = (blockIdx.x % tiles_per_sample) * kTileCells;
  const int n = static_cast<int>(min(static_cast<int64_t>(kTileCells), K - k0));
  const int64_t g0 = b * K + k0;
  load_tile_intervals(starts, lengths, cells, tile_offsets, g0, tiv);
  if (tiv.count == 0) return;  // uniform over the block: no point lands in this tile
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  int begin, end;
  warp_points(tiv, warp, begin, end);

  for (int64_t c0 = 0; c0 < C; c0 += kPassChannels) {
    const int nc = static_cast<int>(min(static_cast<int64_t>(kPassChannels), C - c0));
    for (int j = threadIdx.x; j < kPassChannels * kTileCells; j += kThreads) {
      const int cl = j / kTileCells;
      const int t = j % kTileCells;
      tile[t][cl] = t < n && cl < nc
                        ? static_cast<acc_t>(grad_out[(b * C + c0 + cl) * K + k0 + t])
                        : acc_t(0);
    }
    __syncthreads();
    if (grad_cells != nullptr) {  // grad_out at the intervals' cells, for the context gradient
      for (int j = threadIdx.x; j < tiv.count * nc; j += kThreads) {
        const int iv = j / nc;
        const int cl = j % nc;
        grad_cells[static_cast<int64_t>(tiv.first + iv) * C + c0 + cl] =
            static_cast<scalar_t>(tile[tiv.cell[iv]][cl]);
      }
    }
    for (int base = begin; base < end; base += kWarpSize) {
      const int q = base + lane;
      const bool mine_valid = q < end;
      const int my_cell = mine_valid ? cell_of(tiv, q) : 0;
      const int m = min(kWarpSize, end - base);
      if constexpr (kFused) {
        const int my_row = mine_valid ? ranks_feat[q] : 0;
        acc_t mine = acc_t(0);
        for (int j0 = 0; j0 < m; j0 += kUnroll) {
          acc_t v[kUnroll][kLaneChannels];
          int t[kUnroll];
#pragma unroll
          for (int u = 0; u < kUnroll; ++u) {
            const int src = (j0 + u) & (kWarpSize - 1);
            const int64_t row = __shfl_sync(kFullMask, my_row, src);
            t[u] = __shfl_sync(kFullMask, my_cell, src);
#pragma unroll
            for (int k = 0; k < kLaneChannels; ++k) {
              const int64_t c = c0 + k * kWarpSize + lane;
              v[u][k] = j0 + u < m && c < C ? static_cast<acc_t>(feat[row * C + c]) : acc_t(0);
            }
          }
#pragma unroll
          for (int u = 0; u < kUnroll; ++u) {
            if (j0 + u < m) {  // uniform over the warp
              acc_t s = acc_t(0);
#pragma unroll
              for (int k = 0; k < kLaneChannels; ++k) {
                s += tile[t[u]][k * kWarpSize + lane] * v[u][k];
              }
              s = warp_sum(s);
              if (lane == j0 + u) mine = s;
            }
          }
        }
        if (mine_valid) {
          // The same lane owns this point in every channel pass, so += is race-free.
          scalar_t* dst = grad + ranks_depth[q];
          *dst = c0 == 0 ? static_cast<scalar_t>(mine)
                         : static_cast<scalar_t>(static_cast<acc_t>(*dst) + mine);
        }
      } else {
        for (int j = 0; j < m; ++j) {
          const int t = __shfl_sync(kFullMask, my_cell, j);
          const int64_t p = base + j;
#pragma unroll
          for (int k = 0; k < kLaneChannels; ++k) {
            const int cl = k * kWarpSize + lane;
            if (cl < nc) grad[p * C + c0 + cl] = static_cast<scalar_t>(tile[t][cl]);
          }
        }
      }
    }
    __syncthreads();
  }
}

// grad_feat[feats[j], c] = sum over the group's points q of depth[rd[q]] * grad_cells[iv[q], c].
template <typename scalar_t>
__global__ void __launch_bounds__(kThreads)
    backward_feat_kernel(const scalar_t* __restrict__ grad_cells,
                         const scalar_t* __restrict__ depth,
                         const int32_t* __restrict__ ranks_depth,
                         const int32_t* __restrict__ intervals,
                         const int32_t* __restrict__ feats, const int32_t* __restrict__ starts,
                         const int32_t* __restrict__ lengths, int groups, int64_t C,
                         scalar_t* __restrict__ grad_feat) {
  using acc_t = at::opmath_type<scalar_t>;
  const int lane = threadIdx.x % kWarpSize;
  const int64_t group = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarpSize;
  if (group >= groups) return;  // uniform over the warp
  const int start = starts[group];
  const int len = lengths[group];
  scalar_t* dst = grad_feat + static_cast<int64_t>(feats[group]) * C;
  for (int64_t c0 = 0; c0 < C; c0 += kPassChannels) {
    acc_t acc[kLaneChannels];
#pragma unroll
    for (int k = 0; k < kLaneChannels; ++k) acc[k] = acc_t(0);
    for (int base = 0; base < len; base += kWarpSize) {
      int my_row = 0;
      acc_t my_d = acc_t(0);
      if (base + lane < len) {
        my_row = intervals[start + base + lane];
        my_d = static_cast<acc_t>(depth[ranks_depth[start + base + lane]]);
      }
      const int m = min(kWarpSize, len - base);
      for (int j0 = 0; j0 < m; j0 += kUnroll) {
        acc_t v[kUnroll][kLaneChannels];
        acc_t d[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          const int src = (j0 + u) & (kWarpSize - 1);
          const int64_t row = __shfl_sync(kFullMask, my_row, src);
          d[u] = __shfl_sync(kFullMask, my_d, src);
#pragma unroll
          for (int k = 0; k < kLaneChannels; ++k) {
            const int64_t c = c0 + k * kWarpSize + lane;
            v[u][k] = j0 + u < m && c < C ? static_cast<acc_t>(grad_cells[row * C + c])
                                          : acc_t(0);
          }
        }
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
          for (int k = 0; k < kLaneChannels; ++k) acc[k] += d[u] * v[u][k];
        }
      }
    }
#pragma unroll
    for (int k = 0; k < kLaneChannels; ++k) {
      const int64_t c = c0 + k * kWarpSize + lane;
      if (c < C) dst[c] = static_cast<scalar_t>(acc[k]);
    }
  }
}

int checked_int(int64_t v, const char* name) {
  TORCH_CHECK(v <= std::numeric_limits<int>::max(), name, " too large for the CUDA kernels: ",
              v);
  return static_cast<int>(v);
}

void check_tile_cells(int64_t tile_cells) {
  TORCH_CHECK(tile_cells == kTileCells, "the CUDA kernels need tile_cells = ", kTileCells,
              ", got ", tile_cells);
}

template <bool kFused>
void launch_forward(const at::Tensor& depth, const at::Tensor& feat,
                    const at::Tensor& ranks_depth, const at::Tensor& ranks_feat,
                    const at::Tensor& starts, const at::Tensor& lengths, const at::Tensor& cells,
                    const at::Tensor& tile_offsets, const at::Tensor& out) {
  const c10::cuda::CUDAGuard guard(out.device());
  const int64_t C = out.size(1);
  const int64_t K = out.size(2);
  const int64_t tiles_per_sample = (K + kTileCells - 1) / kTileCells;
  const int blocks = checked_int(out.size(0) * tiles_per_sample, "number of output tiles");
  if (blocks == 0 || C == 0) return;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(),
                                  "bev_pool_forward_cuda", [&] {
    forward_tiles_kernel<scalar_t, kFused><<<blocks, kThreads, 0, stream>>>(
        kFused ? depth.data_ptr<scalar_t>() : nullptr, feat.data_ptr<scalar_t>(),
        kFused ? ranks_depth.data_ptr<int32_t>() : nullptr,
        kFused ? ranks_feat.data_ptr<int32_t>() : nullptr, starts.data_ptr<int32_t>(),
        lengths.data_ptr<int32_t>(), cells.data_ptr<int32_t>(),
        tile_offsets.data_ptr<int32_t>(), C, K, tiles_per_sample, out.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

template <bool kFused>
void launch_backward(const at::Tensor& grad_out, const at::Tensor& feat,
                     const at::Tensor& ranks_depth, const at::Tensor& ranks_feat,
                     const at::Tensor& starts, const at::Tensor& lengths,
                     const at::Tensor& cells, const at::Tensor& tile_offsets,
                     const at::Tensor& grad, const std::optional<at::Tensor>& grad_cells) {
  const c10::cuda::CUDAGuard guard(grad_out.device());
  const int64_t C = grad_out.size(1);
  const int64_t K = grad_out.size(2);
  const int64_t tiles_per_sample = (K + kTileCells - 1) / kTileCells;
  const int blocks = checked_int(grad_out.size(0) * tiles_per_sample, "number of output tiles");
  if (blocks == 0 || C == 0 || starts.numel() == 0) return;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_out.scalar_type(),
                                  "bev_pool_backward_cuda", [&] {
    backward_tiles_kernel<scalar_t, kFused><<<blocks, kThreads, 0, stream>>>(
        grad_out.data_ptr<scalar_t>(), kFused ? feat.data_ptr<scalar_t>() : nullptr,
        kFused ? ranks_depth.data_ptr<int32_t>() : nullptr,
        kFused ? ranks_feat.data_ptr<int32_t>() : nullptr, starts.data_ptr<int32_t>(),
        lengths.data_ptr<int32_t>(), cells.data_ptr<int32_t>(),
        tile_offsets.data_ptr<int32_t>(), C, K, tiles_per_sample, grad.data_ptr<scalar_t>(),
        grad_cells ? grad_cells->data_ptr<scalar_t>() : nullptr);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

void fused_forward_cuda(const at::Tensor& depth, const at::Tensor& feat,
                        const at::Tensor& ranks_depth, const at::Tensor& ranks_feat,
                        const at::Tensor& starts, const at::Tensor& lengths,
                        const at::Tensor& cells, const at::Tensor& tile_offsets,
                        int64_t tile_cells, const at::Tensor& out) {
  check_fused_forward(depth, feat, ranks_depth, ranks_feat, starts, lengths, cells,
                      tile_offsets, tile_cells, out);
  check_tile_cells(tile_cells);
  launch_forward<true>(depth, feat, ranks_depth, ranks_feat, starts, lengths, cells,
                       tile_offsets, out);
}

void fused_backward_depth_cuda(const at::Tensor& grad_out, const at::Tensor& feat,
                               const at::Tensor& ranks_depth, const at::Tensor& ranks_feat,
                               const at::Tensor& starts, const at::Tensor& lengths,
                               const at::Tensor& cells, const at::Tensor& tile_offsets,
                               int64_t tile_cells, const at::Tensor& grad_depth,
                               const std::optional<at::Tensor>& grad_cells) {
  check_fused_backward_depth(grad_out, feat, ranks_depth, ranks_feat, starts, lengths, cells,
                             tile_offsets, tile_cells, grad_depth, grad_cells);
  check_tile_cells(tile_cells);
  launch_backward<true>(grad_out, feat, ranks_depth, ranks_feat, starts, lengths, cells,
                        tile_offsets, grad_depth, grad_cells);
}

void fused_backward_feat_cuda(const at::Tensor& grad_cells, const at::Tensor& depth,
                              const at::Tensor& ranks_depth, const at::Tensor& intervals,
                              const at::Tensor& feats, const at::Tensor& starts,
                              const at::Tensor& lengths, const at::Tensor& grad_feat) {
  check_fused_backward_feat(grad_cells, depth, ranks_depth, intervals, feats, starts, lengths,
                            grad_feat);
  const c10::cuda::CUDAGuard guard(grad_feat.device());
  const int groups = checked_int(feats.numel(), "number of feature groups");
  const int64_t C = grad_feat.size(1);
  if (groups == 0 || C == 0) return;
  const int blocks = (groups + kWarps - 1) / kWarps;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_feat.scalar_type(),
                                  "bev_pool_backward_feat_cuda", [&] {
    backward_feat_kernel<scalar_t><<<blocks, kThreads, 0, stream>>>(
        grad_cells.data_ptr<scalar_t>(), depth.data_ptr<scalar_t>(),
        ranks_depth.data_ptr<int32_t>(), intervals.data_ptr<int32_t>(),
        feats.data_ptr<int32_t>(), starts.data_ptr<int32_t>(), lengths.data_ptr<int32_t>(),
        groups, C, grad_feat.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

void interval_forward_cuda(const at::Tensor& x, const at::Tensor& starts,
                           const at::Tensor& lengths, const at::Tensor& cells,
                           const at::Tensor& tile_offsets, int64_t tile_cells,
                           const at::Tensor& out) {
  check_interval_forward(x, starts, lengths, cells, tile_offsets, tile_cells, out);
  check_tile_cells(tile_cells);
  launch_forward<false>(at::Tensor(), x, at::Tensor(), at::Tensor(), starts, lengths, cells,
                        tile_offsets, out);
}

void interval_backward_cuda(const at::Tensor& grad_out, const at::Tensor& starts,
                            const at::Tensor& lengths, const at::Tensor& cells,
                            const at::Tensor& tile_offsets, int64_t tile_cells,
                            const at::Tensor& grad_x) {
  check_interval_backward(grad_out, starts, lengths, cells, tile_offsets, tile_cells, grad_x);
  check_tile_cells(tile_cells);
  launch_backward<false>(grad_out, at::Tensor(), at::Tensor(), at::Tensor(), starts, lengths,
                         cells, tile_offsets, grad_x, std::nullopt);
}

}  // namespace
}  // namespace bev_pool
}  // namespace simdistill

SIMDISTILL_LIBRARY_IMPL(SIMDISTILL_BEV_POOL_NS, CUDA, m) {
  using namespace simdistill::bev_pool;
  m.impl("fused_forward", &fused_forward_cuda);
  m.impl("fused_backward_depth", &fused_backward_depth_cuda);
  m.impl("fused_backward_feat", &fused_backward_feat_cuda);
  m.impl("interval_forward", &interval_forward_cuda);
  m.impl("interval_backward", &interval_backward_cuda);
}
