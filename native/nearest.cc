// Top-k vocabulary rows of query vectors by the float32 score s(v) = v·q − ‖v‖²/2 (the largest s is the smallest
// Euclidean distance to q): one pass over the vocabulary per block of queries, scores compared against each query's
// running k-th best, so only the few rows that beat it are sorted in. The vocabulary is given transposed
// ([dim + 1][n]: dimension d of every row, then −‖v‖²/2) so that 8 consecutive rows load as one AVX2 vector.
// Replaces an onnxruntime MatMul + TopK that wrote and re-read the [batch, n] score matrix (~18k queries per
// CPU-second per port field over 47k port vectors). The caller (src/pipeline/embedding-decode.ts) settles near ties
// exactly, so the summation order of the float32 scores does not matter.
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NETSHARE_X86 1
#endif

#include "napi_modules.h"

namespace netshare {
namespace {

// One query's best k rows so far, best first (ties keep the earlier row first).
struct TopList {
  float* score;
  int32_t* row;
  int k;
  int filled = 0;
  float threshold = -std::numeric_limits<float>::infinity();
  void Offer(float s, int32_t r) {
    if (filled == k && !(s > threshold)) return;
    int i = filled < k ? filled++ : k - 1;
    while (i > 0 && s > score[i - 1]) {
      score[i] = score[i - 1];
      row[i] = row[i - 1];
      i--;
    }
    score[i] = s;
    row[i] = r;
    if (filled == k) threshold = score[k - 1];
  }
};

// Queries per pass over the vocabulary: their pre-broadcast coordinates (kBlock · dim · 32 bytes) stay in L1.
constexpr int kBlock = 64;
// Dimensions with a compiled kernel (the vocabulary block is held in registers); wider ones take the scalar loop.
constexpr int kMaxKernelDim = 16;

void ScalarRows(const float* wt, int n, int dim, const float* q, int from, TopList& top) {
  for (int j = from; j < n; j++) {
    float s = wt[static_cast<size_t>(dim) * n + j];
    for (int d = 0; d < dim; d++) s += q[d] * wt[static_cast<size_t>(d) * n + j];
    top.Offer(s, j);
  }
}

void TopKScalar(const float* wt, int n, int dim, const float* queries, int b, TopList* tops) {
  for (int i = 0; i < b; i++) ScalarRows(wt, n, dim, queries + static_cast<size_t>(i) * dim, 0, tops[i]);
}

#ifdef NETSHARE_X86
// D = dim known at compile time: a block of 8 vocabulary rows is loaded into D + 1 registers once, then every query of
// a block of kBlock passes over it, its coordinates pre-broadcast to 8 lanes in memory (one fused load + FMA each).
template <int D>
__attribute__((target("avx2,fma"))) void TopKAvx2(const float* wt, int n, const float* queries, int b, TopList* tops) {
  const int n8 = n - n % 8;
  const float* bias = wt + static_cast<size_t>(D) * n;
  alignas(32) static thread_local float qb[kBlock][D][8];
  alignas(32) static thread_local float thr[kBlock][8];
  for (int i0 = 0; i0 < b; i0 += kBlock) {
    const int m = b - i0 < kBlock ? b - i0 : kBlock;
    for (int t = 0; t < m; t++) {
      for (int d = 0; d < D; d++)
        for (int l = 0; l < 8; l++) qb[t][d][l] = queries[static_cast<size_t>(i0 + t) * D + d];
      for (int l = 0; l < 8; l++) thr[t][l] = tops[i0 + t].filled < tops[i0 + t].k ? -std::numeric_limits<float>::infinity() : tops[i0 + t].threshold;
    }
    for (int j = 0; j < n8; j += 8) {
      __m256 w[D];
      for (int d = 0; d < D; d++) w[d] = _mm256_loadu_ps(wt + static_cast<size_t>(d) * n + j);
      const __m256 b8 = _mm256_loadu_ps(bias + j);
      for (int t = 0; t < m; t++) {
        __m256 acc = b8;
        for (int d = 0; d < D; d++) acc = _mm256_fmadd_ps(w[d], _mm256_load_ps(qb[t][d]), acc);
        const int mask = _mm256_movemask_ps(_mm256_cmp_ps(acc, _mm256_load_ps(thr[t]), _CMP_GT_OQ));
        if (mask == 0) continue;
        TopList& top = tops[i0 + t];
        alignas(32) float s[8];
        _mm256_store_ps(s, acc);
        for (int l = 0; l < 8; l++)
          if (mask & (1 << l)) top.Offer(s[l], j + l);
        const float th = top.filled < top.k ? -std::numeric_limits<float>::infinity() : top.threshold;
        for (int l = 0; l < 8; l++) thr[t][l] = th;
      }
    }
    for (int t = 0; t < m; t++) ScalarRows(wt, n, D, queries + static_cast<size_t>(i0 + t) * D, n8, tops[i0 + t]);
  }
}

using Kernel = void (*)(const float*, int, const float*, int, TopList*);
template <int... Ds>
Kernel KernelFor(int dim, std::integer_sequence<int, Ds...>) {
  Kernel k = nullptr;
  ((dim == Ds + 1 ? (k = &TopKAvx2<Ds + 1>, 0) : 0), ...);
  return k;
}
#endif

// nearestTopK(vocabT: Float32Array [(dim + 1) * n], n, dim, queries: Float32Array [b * dim], b, k)
//   → { rows: Int32Array [b * k], scores: Float32Array [b * k] }, best first per query (k ≤ n).
Napi::Value NearestTopK(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsTypedArray() || !info[3].IsTypedArray()) {
    throw Napi::TypeError::New(env, "nearestTopK(vocabT: Float32Array, n, dim, queries: Float32Array, b, k)");
  }
  auto vocab = info[0].As<Napi::Float32Array>();
  const int64_t n = info[1].As<Napi::Number>().Int64Value();
  const int64_t dim = info[2].As<Napi::Number>().Int64Value();
  auto queries = info[3].As<Napi::Float32Array>();
  const int64_t b = info[4].As<Napi::Number>().Int64Value();
  const int64_t k = info[5].As<Napi::Number>().Int64Value();
  if (n < 1 || dim < 1 || b < 0 || k < 1 || k > n || n > INT32_MAX || dim > 4096) {
    throw Napi::RangeError::New(env, "nearestTopK: need n ≥ 1, 1 ≤ dim ≤ 4096, b ≥ 0, 1 ≤ k ≤ n");
  }
  if (static_cast<int64_t>(vocab.ElementLength()) != (dim + 1) * n) {
    throw Napi::RangeError::New(env, "nearestTopK: vocabT must hold (dim + 1) * n values");
  }
  if (static_cast<int64_t>(queries.ElementLength()) < b * dim) {
    throw Napi::RangeError::New(env, "nearestTopK: queries must hold b * dim values");
  }
  auto rows = Napi::Int32Array::New(env, static_cast<size_t>(b * k));
  auto scores = Napi::Float32Array::New(env, static_cast<size_t>(b * k));
  std::vector<TopList> tops(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; i++) tops[i] = TopList{scores.Data() + i * k, rows.Data() + i * k, static_cast<int>(k)};
#ifdef NETSHARE_X86
  Kernel kernel = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                      ? KernelFor(static_cast<int>(dim), std::make_integer_sequence<int, kMaxKernelDim>{})
                      : nullptr;
  if (kernel != nullptr) {
    kernel(vocab.Data(), static_cast<int>(n), queries.Data(), static_cast<int>(b), tops.data());
  } else {
    TopKScalar(vocab.Data(), static_cast<int>(n), static_cast<int>(dim), queries.Data(), static_cast<int>(b), tops.data());
  }
#else
  TopKScalar(vocab.Data(), static_cast<int>(n), static_cast<int>(dim), queries.Data(), static_cast<int>(b), tops.data());
#endif
  Napi::Object out = Napi::Object::New(env);
  out.Set("rows", rows);
  out.Set("scores", scores);
  return out;
}

}  // namespace

void RegisterNearest(Napi::Env env, Napi::Object exports) {
  exports.Set("nearestTopK", Napi::Function::New(env, NearestTopK));
}

}  // namespace netshare
