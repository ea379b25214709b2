// Top-k vocabulary rows of query vectors by the float32 score s(v) = v·q − ‖v‖²/2 (the largest s is the smallest
// Euclidean distance to q): one pass over the vocabulary per block of queries, scores compared against each query's
// running k-th best, so only the few rows that beat it are sorted in. The vocabulary is given transposed
// ([dim + 1][n]: dimension d of every row, then −‖v‖²/2) so that 8 consecutive rows load as one AVX2 vector.
// Replaces an onnxruntime MatMul + TopK that wrote and re-read the [batch, n] score matrix (~18k queries per
// CPU-second per port field over 47k port vectors). The caller (src/pipeline/embedding-decode.ts) settles near ties
// exactly, so the summation order of the float32 scores does not matter.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NETSHARE_X86 1
#endif

#include "napi_modules.h"

namespace netshare {
namespace {

// The float32 just below x (x itself when −∞ or NaN): std::nextafter(x, −∞) without the library call.
inline float NextDown(float x) {
  if (!(x > -std::numeric_limits<float>::infinity())) return x;
  if (x == 0) return -std::numeric_limits<float>::denorm_min();
  uint32_t b;
  std::memcpy(&b, &x, 4);
  b = x > 0 ? b - 1 : b + 1;
  std::memcpy(&x, &b, 4);
  return x;
}

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
  // What a row must beat to be offered: the k-th best score; with a gap ≥ 0 (the pruned search, whose caller reads
  // only the rows within gap of the best) also the best minus gap, rounded down one float32 step past it.
  float CutOff(double gap) const {
    const float kth = filled < k ? -std::numeric_limits<float>::infinity() : threshold;
    if (gap < 0 || filled == 0) return kth;
    const double t = static_cast<double>(score[0]) - gap;
    float tf = static_cast<float>(t);
    if (static_cast<double>(tf) > t) tf = NextDown(tf);
    tf = NextDown(tf);
    return tf > kth ? tf : kth;
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
// Columns [0, limit) (a multiple of 8) of a transposed block [D + 1][stride] (numbered from `base`) for the queries
// idx[0..m) of `queries`: 8 rows loaded into D + 1 registers once, then every query of a block of kBlock passes over
// them, its coordinates pre-broadcast to 8 lanes in memory (one fused load + FMA each). The flat scan runs it over the
// whole vocabulary, PrunedVocab over one cluster for the queries that reach it.
template <int D>
__attribute__((target("avx2,fma"))) void ClusterAvx2(const float* wt, int stride, int limit, int base, const float* queries, const int32_t* idx,
                                                    int m, TopList* tops, double gap) {
  const int cols = stride;
  const float* bias = wt + static_cast<size_t>(D) * cols;
  alignas(32) static thread_local float qb[kBlock][D][8];
  alignas(32) static thread_local float thr[kBlock][8];
  for (int i0 = 0; i0 < m; i0 += kBlock) {
    const int mb = m - i0 < kBlock ? m - i0 : kBlock;
    for (int t = 0; t < mb; t++) {
      const float* q = queries + static_cast<size_t>(idx[i0 + t]) * D;
      for (int d = 0; d < D; d++) _mm256_store_ps(qb[t][d], _mm256_set1_ps(q[d]));
      const TopList& top = tops[idx[i0 + t]];
      _mm256_store_ps(thr[t], _mm256_set1_ps(top.CutOff(gap)));
    }
    for (int j = 0; j < limit; j += 8) {
      __m256 w[D];
      for (int d = 0; d < D; d++) w[d] = _mm256_loadu_ps(wt + static_cast<size_t>(d) * cols + j);
      const __m256 b8 = _mm256_loadu_ps(bias + j);
      for (int t = 0; t < mb; t++) {
        __m256 acc = b8;
        for (int d = 0; d < D; d++) acc = _mm256_fmadd_ps(w[d], _mm256_load_ps(qb[t][d]), acc);
        const int mask = _mm256_movemask_ps(_mm256_cmp_ps(acc, _mm256_load_ps(thr[t]), _CMP_GT_OQ));
        if (mask == 0) continue;
        TopList& top = tops[idx[i0 + t]];
        alignas(32) float s[8];
        _mm256_store_ps(s, acc);
        for (int l = 0; l < 8; l++)
          if (mask & (1 << l)) top.Offer(s[l], base + j + l);
        _mm256_store_ps(thr[t], _mm256_set1_ps(top.CutOff(gap)));
      }
    }
  }
}

// D = dim known at compile time: ClusterAvx2 over the first n − n % 8 rows for every query, then the tail by the
// scalar loop.
template <int D>
__attribute__((target("avx2,fma"))) void TopKAvx2(const float* wt, int n, const float* queries, int b, TopList* tops) {
  const int n8 = n - n % 8;
  std::vector<int32_t> all(static_cast<size_t>(b));
  for (int i = 0; i < b; i++) all[static_cast<size_t>(i)] = i;
  ClusterAvx2<D>(wt, n, n8, 0, queries, all.data(), b, tops, -1);
  for (int i = 0; i < b; i++) ScalarRows(wt, n, D, queries + static_cast<size_t>(i) * D, n8, tops[i]);
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

#ifdef NETSHARE_X86
using ClusterKernel = void (*)(const float*, int, int, int, const float*, const int32_t*, int, TopList*, double);
template <int... Ds>
ClusterKernel ClusterKernelFor(int dim, std::integer_sequence<int, Ds...>) {
  ClusterKernel k = nullptr;
  ((dim == Ds + 1 ? (k = &ClusterAvx2<Ds + 1>, 0) : 0), ...);
  return k;
}

#endif

// ---- Pruned search: the vocabulary in clusters, each with a bound on its rows' scores ----
//
// The rows are split into clusters (a median split on the dimension of largest variance into a power of two of
// leaves of ≥ kLeafRows rows, then two Lloyd rounds). Each cluster keeps its mean direction ĉ, the largest angle θ
// between ĉ and a member, and its members' smallest and largest norms. For a query q at angle α to ĉ every member v
// has ∠(v, q) ≥ α − θ, so v·q ≤ ‖v‖‖q‖·cb with cb = 1 when α ≤ θ, else cos(α − θ); hence
//   s(v) = v·q − ‖v‖²/2 ≤ ‖q‖·(cb ≥ 0 ? nmax·cb : nmin·cb) − nmin²/2.
// A query scans the cluster of the largest bound first, then every cluster whose bound (plus a rounding slack) reaches
// that cluster's best float32 score minus `gap`: every row whose float32 score is within `gap` of the best is scanned,
// so the k best rows returned hold all of them (what the caller settles ties on); rows further below may be missing.
// On the UGR16 port vocabulary (61,584 rows of 10 dimensions: 256 clusters) a generated port scores 13–19% of the
// rows. Leaves of ≥ 48 rows (512 clusters) scored 10–15% but took ~15% longer a query: the bounds, the choice of the
// first cluster and the listing cost per cluster, the scan per row (bench/decode.ts, session 11).
constexpr int kLeafRows = 96;

class PrunedVocab : public Napi::ObjectWrap<PrunedVocab> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PrunedVocab",
                       {InstanceMethod("topk", &PrunedVocab::TopKMethod), InstanceMethod("nearest", &PrunedVocab::NearestMethod), InstanceAccessor("clusters", &PrunedVocab::Clusters, nullptr),
                        InstanceAccessor("scanned", &PrunedVocab::Scanned, nullptr)});
  }

  // PrunedVocab(vectors: Float32Array [n * dim], n, dim)
  explicit PrunedVocab(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PrunedVocab>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "PrunedVocab(vectors: Float32Array, n, dim)");
    auto vecs = info[0].As<Napi::Float32Array>();
    const int64_t n = info[1].As<Napi::Number>().Int64Value();
    const int64_t dim = info[2].As<Napi::Number>().Int64Value();
    if (n < 1 || dim < 1 || dim > 4096 || n > INT32_MAX / 2) throw Napi::RangeError::New(env, "PrunedVocab: need n ≥ 1, 1 ≤ dim ≤ 4096");
    if (static_cast<int64_t>(vecs.ElementLength()) != n * dim) throw Napi::RangeError::New(env, "PrunedVocab: vectors must hold n * dim values");
    n_ = static_cast<int>(n);
    dim_ = static_cast<int>(dim);
#ifdef NETSHARE_X86
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      cluster_ = ClusterKernelFor(dim_, std::make_integer_sequence<int, kMaxKernelDim>{});
#endif
    vec_.assign(vecs.Data(), vecs.Data() + n * dim);
    Build(vecs.Data());
  }

 private:
  // a cluster: its padded columns [from, to) of wt_, its member count, the bound's angle and norms
  struct Cluster {
    int from = 0, to = 0, rows = 0;
    double cosT = 1, sinT = 0, nmin = 0, nmax = 0;
  };

  void Build(const float* v) {
    const int n = n_, dim = dim_;
    int parts = 1;
    while (static_cast<int64_t>(parts) * 2 * kLeafRows <= n) parts *= 2;
    // median split
    std::vector<int32_t> idx(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) idx[static_cast<size_t>(i)] = i;
    std::vector<int32_t> assign(static_cast<size_t>(n));
    int leaf = 0;
    std::vector<std::tuple<int, int, int>> stack{{0, n, parts}};
    while (!stack.empty()) {
      auto [lo, hi, p] = stack.back();
      stack.pop_back();
      if (p <= 1 || hi - lo < 2) {
        for (int i = lo; i < hi; i++) assign[static_cast<size_t>(idx[static_cast<size_t>(i)])] = leaf;
        leaf++;
        continue;
      }
      int bd = 0;
      double bv = -1;
      for (int d = 0; d < dim; d++) {
        double m = 0, m2 = 0;
        for (int i = lo; i < hi; i++) {
          const double x = v[static_cast<size_t>(idx[static_cast<size_t>(i)]) * dim + d];
          m += x;
          m2 += x * x;
        }
        const double var = m2 / (hi - lo) - (m / (hi - lo)) * (m / (hi - lo));
        if (var > bv) bv = var, bd = d;
      }
      const int mid = lo + (hi - lo) / 2;
      std::nth_element(idx.begin() + lo, idx.begin() + mid, idx.begin() + hi, [&](int32_t a, int32_t b) {
        const float xa = v[static_cast<size_t>(a) * dim + bd], xb = v[static_cast<size_t>(b) * dim + bd];
        return xa < xb || (xa == xb && a < b) || (std::isnan(xb) && !std::isnan(xa)) || (std::isnan(xa) && std::isnan(xb) && a < b);
      });
      stack.emplace_back(mid, hi, p / 2);
      stack.emplace_back(lo, mid, p / 2);
    }
    int C = leaf;
    std::vector<double> cent(static_cast<size_t>(C) * dim);
    auto means = [&]() {
      std::vector<int> cnt(static_cast<size_t>(C));
      std::vector<double> sum(static_cast<size_t>(C) * dim);
      for (int i = 0; i < n; i++) {
        const int c = assign[static_cast<size_t>(i)];
        cnt[static_cast<size_t>(c)]++;
        for (int d = 0; d < dim; d++) sum[static_cast<size_t>(c) * dim + d] += v[static_cast<size_t>(i) * dim + d];
      }
      for (int c = 0; c < C; c++)
        if (cnt[static_cast<size_t>(c)] > 0)
          for (int d = 0; d < dim; d++) cent[static_cast<size_t>(c) * dim + d] = sum[static_cast<size_t>(c) * dim + d] / cnt[static_cast<size_t>(c)];
    };
    means();
    // two Lloyd rounds (float distances over the transposed centroids; ties to the lower cluster)
    std::vector<float> ct(static_cast<size_t>(C) * dim), dist(static_cast<size_t>(C));
    for (int round = 0; round < 2 && C > 1; round++) {
      for (int c = 0; c < C; c++)
        for (int d = 0; d < dim; d++) ct[static_cast<size_t>(d) * C + c] = static_cast<float>(cent[static_cast<size_t>(c) * dim + d]);
      for (int i = 0; i < n; i++) {
        Distances(v + static_cast<size_t>(i) * dim, ct.data(), dim, C, dist.data());
        int best = assign[static_cast<size_t>(i)];
        float bd = dist[static_cast<size_t>(best)];
        for (int c = 0; c < C; c++)
          if (dist[static_cast<size_t>(c)] < bd) bd = dist[static_cast<size_t>(c)], best = c;
        assign[static_cast<size_t>(i)] = best;
      }
      means();
    }
    // members per cluster (row order), empty clusters dropped
    std::vector<std::vector<int32_t>> members(static_cast<size_t>(C));
    for (int i = 0; i < n; i++) members[static_cast<size_t>(assign[static_cast<size_t>(i)])].push_back(i);
    size_t cols = 0;
    for (auto& m : members) cols += (m.size() + 7) / 8 * 8;
    wt_.assign(static_cast<size_t>(dim + 1) * cols, 0.0f);
    perm_.assign(cols, -1);
    // cluster blocks [dim + 1][its padded columns] one after the other (a cluster is one contiguous run of memory)
    size_t at = 0;
    std::vector<double> dirs;
    for (int c = 0; c < C; c++) {
      const auto& m = members[static_cast<size_t>(c)];
      if (m.empty()) continue;
      double cn = 0;
      for (int d = 0; d < dim; d++) cn += cent[static_cast<size_t>(c) * dim + d] * cent[static_cast<size_t>(c) * dim + d];
      cn = std::sqrt(cn);
      double cosT = 1, nmin = std::numeric_limits<double>::infinity(), nmax = 0;
      bool bounded = cn > 1e-12 && std::isfinite(cn);
      for (int32_t r : m) {
        double nv = 0, dot = 0;
        for (int d = 0; d < dim; d++) {
          const double x = v[static_cast<size_t>(r) * dim + d];
          nv += x * x;
          dot += x * (bounded ? cent[static_cast<size_t>(c) * dim + d] / cn : 0.0);
        }
        nv = std::sqrt(nv);
        if (!std::isfinite(nv)) bounded = false;
        nmin = std::min(nmin, nv);
        nmax = std::max(nmax, nv);
        if (nv > 0) cosT = std::min(cosT, dot / nv);
      }
      Cluster k;
      k.from = static_cast<int>(at);
      k.to = static_cast<int>(at + (m.size() + 7) / 8 * 8);
      k.rows = static_cast<int>(m.size());
      // θ widened a little against rounding; an unbounded cluster (zero mean, non-finite rows) is always scanned
      k.cosT = bounded ? std::max(-1.0, cosT - 1e-6) : -1.0;
      k.sinT = std::sqrt(std::max(0.0, 1 - k.cosT * k.cosT));
      k.nmin = bounded ? nmin : 0;
      k.nmax = bounded ? nmax : std::numeric_limits<double>::infinity();
      for (int d = 0; d < dim; d++) dirs.push_back(bounded ? cent[static_cast<size_t>(c) * dim + d] / cn : 0.0);
      const size_t w = static_cast<size_t>(k.to - k.from);
      float* block = wt_.data() + static_cast<size_t>(dim + 1) * at;
      for (size_t t = m.size(); t < w; t++) block[static_cast<size_t>(dim) * w + t] = -std::numeric_limits<float>::infinity();
      for (size_t t = 0; t < m.size(); t++) {
        const int32_t r = m[t];
        double sq = 0;
        for (int d = 0; d < dim; d++) {
          const float x = v[static_cast<size_t>(r) * dim + d];
          block[static_cast<size_t>(d) * w + t] = x;
          sq += static_cast<double>(x) * x;
        }
        // as vocabScorer computes it (a float64 sum in dimension order, halved, rounded to float32): the same scores
        block[static_cast<size_t>(dim) * w + t] = static_cast<float>(-sq / 2);
        perm_[at + t] = r;
      }
      at = static_cast<size_t>(k.to);
      clusters_.push_back(std::move(k));
    }
    // the bounds' inputs as float arrays over clusters, padded to a multiple of 8 with clusters whose bound is −∞
    const size_t K = clusters_.size();
    const size_t Kp = (K + 7) / 8 * 8;
    cstride_ = static_cast<int>(Kp);
    dirT_.assign(static_cast<size_t>(dim) * Kp, 0.0f);
    for (size_t c = 0; c < K; c++)
      for (int d = 0; d < dim; d++) dirT_[static_cast<size_t>(d) * Kp + c] = static_cast<float>(dirs[c * dim + d]);
    cosT_.assign(Kp, 1.0f);
    sinT_.assign(Kp, 0.0f);
    nmin_.assign(Kp, 0.0f);
    nmax_.assign(Kp, 0.0f);
    base_.assign(Kp, -std::numeric_limits<float>::infinity());
    slackQ_.assign(Kp, 0.0f);
    for (size_t c = 0; c < K; c++) {
      const Cluster& u = clusters_[c];
      cosT_[c] = static_cast<float>(u.cosT);
      sinT_[c] = static_cast<float>(u.sinT);
      nmin_[c] = static_cast<float>(u.nmin);
      nmax_[c] = static_cast<float>(u.nmax);
      base_[c] = static_cast<float>(-u.nmin * u.nmin / 2 + 1e-4 * (1 + u.nmax * u.nmax / 2));
      slackQ_[c] = static_cast<float>(1e-4 * u.nmax);
    }
    ub_.assign(Kp, 0.0f);
    dot_.assign(Kp, 0.0f);
    lists_.assign(K, {});
  }

  // ub_[c]: the bound of cluster c's scores for a query q of norm qn (plus the rounding slack); returns the cluster of
  // the largest bound.
  int Bounds(const float* q, float qn) {
#ifdef NETSHARE_X86
    if (cluster_ != nullptr) BoundsAvx2(q, qn);
    else
#endif
      BoundsLoop(q, qn);
    const int C = static_cast<int>(clusters_.size());
    int first = 0;
    for (int c = 1; c < C; c++)
      if (ub_[static_cast<size_t>(c)] > ub_[static_cast<size_t>(first)]) first = c;
    return first;
  }
  // Query i listed for every cluster but `first` whose bound is not below t (a NaN bound lists it).
  void List(float t, int first, int32_t i) {
    const int C = static_cast<int>(clusters_.size());
#ifdef NETSHARE_X86
    if (cluster_ != nullptr) return ListAvx2(t, first, i, C);
#endif
    for (int c = 0; c < C; c++)
      if (c != first && !(ub_[static_cast<size_t>(c)] < t)) lists_[static_cast<size_t>(c)].push_back(i);
  }
#ifdef NETSHARE_X86
  __attribute__((target("avx2,fma"))) void ListAvx2(float t, int first, int32_t i, int C) {
    const __m256 t8 = _mm256_set1_ps(t);
    for (int c0 = 0; c0 < C; c0 += 8) {
      // lanes not below t (NaN included); the padding past C has bound −∞
      int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(ub_.data() + c0), t8, _CMP_NLT_UQ));
      while (mask != 0) {
        const int c = c0 + __builtin_ctz(static_cast<unsigned>(mask));
        mask &= mask - 1;
        if (c != first && c < C) lists_[static_cast<size_t>(c)].push_back(i);
      }
    }
  }
#endif
  void BoundsLoop(const float* q, float qn) {
    const int C = cstride_;
    float* dot = dot_.data();
    std::fill(dot, dot + C, 0.0f);
    for (int d = 0; d < dim_; d++) {
      const float* row = dirT_.data() + static_cast<size_t>(d) * C;
      const float x = q[d];
      for (int c = 0; c < C; c++) dot[c] += row[c] * x;
    }
    const float inv = 1.0f / qn;
    for (int c = 0; c < C; c++) {
      const float ca = std::max(-1.0f, std::min(1.0f, dot[c] * inv));
      const float cb = ca >= cosT_[c] ? 1.0f : ca * cosT_[c] + std::sqrt(std::max(0.0f, 1 - ca * ca)) * sinT_[c];
      const float du = qn * (cb >= 0 ? nmax_[c] * cb : nmin_[c] * cb);
      ub_[c] = du + base_[c] + qn * slackQ_[c];
    }
  }
#ifdef NETSHARE_X86
  // BoundsLoop, 8 clusters a step
  __attribute__((target("avx2,fma"))) void BoundsAvx2(const float* q, float qn) {
    const int C = cstride_;
    const __m256 inv = _mm256_set1_ps(1.0f / qn), qn8 = _mm256_set1_ps(qn), one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-1.0f),
                 zero = _mm256_setzero_ps();
    for (int c = 0; c < C; c += 8) {
      __m256 dot = zero;
      for (int d = 0; d < dim_; d++) dot = _mm256_fmadd_ps(_mm256_loadu_ps(dirT_.data() + static_cast<size_t>(d) * C + c), _mm256_set1_ps(q[d]), dot);
      const __m256 ca = _mm256_max_ps(neg, _mm256_min_ps(one, _mm256_mul_ps(dot, inv)));
      const __m256 cosT = _mm256_loadu_ps(cosT_.data() + c);
      const __m256 sa = _mm256_sqrt_ps(_mm256_max_ps(zero, _mm256_fnmadd_ps(ca, ca, one)));
      const __m256 cbx = _mm256_fmadd_ps(sa, _mm256_loadu_ps(sinT_.data() + c), _mm256_mul_ps(ca, cosT));
      const __m256 cb = _mm256_blendv_ps(cbx, one, _mm256_cmp_ps(ca, cosT, _CMP_GE_OQ));
      const __m256 nrm = _mm256_blendv_ps(_mm256_loadu_ps(nmin_.data() + c), _mm256_loadu_ps(nmax_.data() + c), _mm256_cmp_ps(cb, zero, _CMP_GE_OQ));
      const __m256 du = _mm256_mul_ps(qn8, _mm256_mul_ps(nrm, cb));
      _mm256_storeu_ps(ub_.data() + c, _mm256_fmadd_ps(qn8, _mm256_loadu_ps(slackQ_.data() + c), _mm256_add_ps(du, _mm256_loadu_ps(base_.data() + c))));
    }
  }
#endif

  // dist[c] = ‖x − centroid c‖² over transposed centroids ct [dim][C]
  static void DistancesLoop(const float* x, const float* ct, int dim, int C, float* dist) {
    std::fill(dist, dist + C, 0.0f);
    for (int d = 0; d < dim; d++) {
      const float* row = ct + static_cast<size_t>(d) * C;
      const float xd = x[d];
      for (int c = 0; c < C; c++) {
        const float t = row[c] - xd;
        dist[c] += t * t;
      }
    }
  }
#ifdef NETSHARE_X86
  __attribute__((target("avx2,fma"), flatten)) static void DistancesAvx2(const float* x, const float* ct, int dim, int C, float* dist) {
    DistancesLoop(x, ct, dim, C, dist);
  }
#endif
  void Distances(const float* x, const float* ct, int dim, int C, float* dist) const {
#ifdef NETSHARE_X86
    if (cluster_ != nullptr) return DistancesAvx2(x, ct, dim, C, dist);
#endif
    DistancesLoop(x, ct, dim, C, dist);
  }

  // Cluster u's rows offered to the top lists of the queries idx[0..m) (the AVX2 kernel where the CPU has it).
  void ScanCluster(const Cluster& u, const float* queries, const int32_t* idx, int m, TopList* tops) {
    const int dim = dim_;
    const size_t cols = static_cast<size_t>(u.to - u.from);
    const float* block = wt_.data() + static_cast<size_t>(dim + 1) * u.from;
#ifdef NETSHARE_X86
    if (cluster_ != nullptr) return cluster_(block, u.to - u.from, u.to - u.from, u.from, queries, idx, m, tops, gap_);
#endif
    for (int t = 0; t < m; t++) Scan(queries + static_cast<size_t>(idx[t]) * dim, block, cols, u.from, tops[idx[t]]);
  }
  // The scalar loop over one cluster's block [dim + 1][cols] (columns numbered from `from`) for query q.
  void Scan(const float* q, const float* block, size_t cols, int from, TopList& top) const {
    const int dim = dim_;
    for (size_t j = 0; j < cols; j++) {
      float s = block[static_cast<size_t>(dim) * cols + j];
      for (int d = 0; d < dim; d++) s += q[d] * block[static_cast<size_t>(d) * cols + j];
      if (s > -std::numeric_limits<float>::infinity()) top.Offer(s, from + static_cast<int>(j));
    }
  }

  // topk(queries: Float32Array [b * dim], b, k, gap) → { rows, scores } as nearestTopK, down to the rows within gap of
  // the best (rows −1 / scores −∞ past them: TopKCore)
  Napi::Value TopKMethod(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "topk(queries: Float32Array, b, k, gap)");
    auto queries = info[0].As<Napi::Float32Array>();
    const int64_t b = info[1].As<Napi::Number>().Int64Value();
    const int64_t k = info[2].As<Napi::Number>().Int64Value();
    const double gap = info[3].As<Napi::Number>().DoubleValue();
    if (b < 0 || k < 1 || k > n_ || !(gap >= 0)) throw Napi::RangeError::New(env, "topk: need b ≥ 0, 1 ≤ k ≤ n, gap ≥ 0");
    if (static_cast<int64_t>(queries.ElementLength()) < b * dim_) throw Napi::RangeError::New(env, "topk: queries must hold b * dim values");
    auto rows = Napi::Int32Array::New(env, static_cast<size_t>(b * k));
    auto scores = Napi::Float32Array::New(env, static_cast<size_t>(b * k));
    TopKCore(queries.Data(), b, k, gap, scores.Data(), rows.Data());
    Napi::Object out = Napi::Object::New(env);
    out.Set("rows", rows);
    out.Set("scores", scores);
    return out;
  }

  // The k best rows of queries [b, dim] into rows/scores [b, k], down to the best score minus gap: a row is offered only
  // when it beats the running best minus gap (TopList::CutOff; offering every row that beat the k-th best cost ~20% of
  // a query on the UGR16 ports), so the list ends (rows −1 / scores −∞) where the rows within gap end.
  void TopKCore(const float* queries, int64_t b, int64_t k, double gap, float* scores, int32_t* rows) {
    gap_ = gap;
    const int dim = dim_;
    const int C = static_cast<int>(clusters_.size());
    int64_t scanned = 0;
    // Two passes, so that a cluster is scanned for many queries while it is in L1 (one query at a time streamed the
    // clusters from memory: slower than the flat scan): (1) per query, the bounds and the cluster of the largest one, scanned,
    // then the query listed for every other cluster whose bound reaches that best score minus gap; (2) per cluster,
    // its listed queries. The threshold of (2) is the best after (1) (it only grows), so (2) scans a superset of the
    // clusters a sequential search would.
    std::vector<TopList> tops(static_cast<size_t>(b));
    for (auto& l : lists_) l.clear();
    for (int64_t i = 0; i < b; i++) {
      const float* q = queries + i * dim;
      TopList& top = tops[static_cast<size_t>(i)];
      top = TopList{scores + i * k, rows + i * k, static_cast<int>(k)};
      double qn2 = 0;
      for (int d = 0; d < dim; d++) qn2 += static_cast<double>(q[d]) * q[d];
      const double qn = std::sqrt(qn2);
      // a zero, huge or non-finite query scans every cluster
      const bool prune = qn > 0 && qn < 1e18;
      const int first = prune && C > 0 ? Bounds(q, static_cast<float>(qn)) : 0;
      if (C == 0) continue;
      const Cluster& f = clusters_[static_cast<size_t>(first)];
      const int32_t self = static_cast<int32_t>(i);
      ScanCluster(f, queries, &self, 1, tops.data());
      scanned += f.rows;
      const double t = prune && top.filled > 0 ? static_cast<double>(top.score[0]) - gap : -std::numeric_limits<double>::infinity();
      // as float32 rounded down: a cluster is listed when its bound is not below t
      float tf = static_cast<float>(t);
      if (static_cast<double>(tf) > t) tf = std::nextafter(tf, -std::numeric_limits<float>::infinity());
      List(tf, first, static_cast<int32_t>(i));
    }
    for (int c = 0; c < C; c++) {
      const Cluster& u = clusters_[static_cast<size_t>(c)];
      const auto& l = lists_[static_cast<size_t>(c)];
      ScanCluster(u, queries, l.data(), static_cast<int>(l.size()), tops.data());
      scanned += static_cast<int64_t>(u.rows) * static_cast<int64_t>(l.size());
    }
    for (int64_t i = 0; i < b; i++) {
      TopList& top = tops[static_cast<size_t>(i)];
      for (int j = 0; j < top.filled; j++) top.row[j] = perm_[static_cast<size_t>(top.row[j])];
      for (int j = top.filled; j < k; j++) top.row[j] = -1, top.score[j] = -std::numeric_limits<float>::infinity();
    }
    scanned_ += scanned;
  }

  // The exact-match table (built at the first `nearest`): a hash of each distinct vector's bits → the rows holding them
  // (the first row of each distinct vector), as CosineIndex's.
  static uint64_t BitsHash(const float* v, int dim) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int d = 0; d < dim; d++) {
      uint32_t b;
      std::memcpy(&b, v + d, 4);
      h = (h ^ b) * 0x100000001b3ull;
    }
    return h;
  }
  void BuildExact() {
    if (exactBuilt_) return;
    exactBuilt_ = true;
    exact_.reserve(static_cast<size_t>(n_));
    for (int i = 0; i < n_; i++) {
      const float* v = vec_.data() + static_cast<size_t>(i) * dim_;
      auto& bucket = exact_[BitsHash(v, dim_)];
      bool seen = false;
      for (int32_t j : bucket) seen = seen || std::memcmp(vec_.data() + static_cast<size_t>(j) * dim_, v, 4 * static_cast<size_t>(dim_)) == 0;
      if (!seen) bucket.push_back(i);
    }
  }
  int32_t ExactRow(const float* q) const {
    auto it = exact_.find(BitsHash(q, dim_));
    if (it == exact_.end()) return -1;
    for (int32_t j : it->second)
      if (std::memcmp(vec_.data() + static_cast<size_t>(j) * dim_, q, 4 * static_cast<size_t>(dim_)) == 0) return j;
    return -1;
  }

  // nearest(rows: Float32Array, stride, off, n, k, gap) → Int32Array [n]: the vocabulary row nearest to each row's vector
  // at `off` ([n, stride]), as src/pipeline/embedding-decode.ts nearestRows decides it (an exact hit; else the unit
  // query's top k by float32 score, the one row within gap of the best, or the nearest by float64 distance among the
  // rows within gap, ties to the lowest row), or −1 where the caller's k-d tree decides (a zero or non-finite query, or k
  // rows all within gap).
  Napi::Value NearestMethod(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 6 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "nearest(rows: Float32Array, stride, off, n, k, gap)");
    auto src = info[0].As<Napi::Float32Array>();
    const int64_t stride = info[1].As<Napi::Number>().Int64Value();
    const int64_t off = info[2].As<Napi::Number>().Int64Value();
    const int64_t n = info[3].As<Napi::Number>().Int64Value();
    const int64_t k = info[4].As<Napi::Number>().Int64Value();
    const double gap = info[5].As<Napi::Number>().DoubleValue();
    const int dim = dim_;
    if (n < 0 || stride < dim || off < 0 || off + dim > stride || k < 1 || k > n_ || !(gap >= 0)) throw Napi::RangeError::New(env, "nearest: need n ≥ 0, 0 ≤ off ≤ stride − dim, 1 ≤ k ≤ vocabulary rows, gap ≥ 0");
    if (n > 0 && static_cast<int64_t>(src.ElementLength()) < (n - 1) * stride + off + dim) throw Napi::RangeError::New(env, "nearest: rows must hold n rows of stride values");
    BuildExact();
    auto out = Napi::Int32Array::New(env, static_cast<size_t>(n));
    const float* x = src.Data();
    // the rows that are not exact hits, in batches of kBatch
    constexpr int64_t kBatch = 4096;
    std::vector<int64_t> pending;
    pending.reserve(static_cast<size_t>(std::min(n, kBatch)));
    std::vector<double> uq(static_cast<size_t>(kBatch * dim));
    std::vector<float> qf(static_cast<size_t>(kBatch * dim));
    std::vector<float> scores(static_cast<size_t>(kBatch * k));
    std::vector<int32_t> top(static_cast<size_t>(kBatch * k));
    std::vector<int32_t> near(static_cast<size_t>(k));
    auto flush = [&]() {
      const int64_t b = static_cast<int64_t>(pending.size());
      if (b == 0) return;
      TopKCore(qf.data(), b, k, gap, scores.data(), top.data());
      for (int64_t i = 0; i < b; i++) {
        const int64_t r = pending[static_cast<size_t>(i)];
        const double* u = uq.data() + i * dim;
        double norm = 0;
        for (int d = 0; d < dim; d++) norm += u[d] * u[d];
        const double best = scores[static_cast<size_t>(i * k)];
        if (!(norm > 0) || !std::isfinite(norm) || !std::isfinite(best)) {
          out[static_cast<size_t>(r)] = -1;
          continue;
        }
        int64_t m = 0;
        for (int64_t j = 0; j < k && static_cast<double>(scores[static_cast<size_t>(i * k + j)]) >= best - gap; j++) near[static_cast<size_t>(m++)] = top[static_cast<size_t>(i * k + j)];
        if (m == 1) out[static_cast<size_t>(r)] = near[0];
        else if (m == k && k < n_) out[static_cast<size_t>(r)] = -1;
        else {
          // CosineIndex.nearestAmong: float64 distances to the unit query, ties to the lowest row
          int32_t bestI = -1;
          double bestD = std::numeric_limits<double>::infinity();
          for (int64_t c = 0; c < m; c++) {
            const int32_t p = near[static_cast<size_t>(c)];
            const float* v = vec_.data() + static_cast<size_t>(p) * dim;
            double dist = 0;
            for (int d = 0; d < dim; d++) {
              const double t = static_cast<double>(v[d]) - u[d];
              dist += t * t;
            }
            if (dist < bestD || (dist == bestD && p < bestI)) bestD = dist, bestI = p;
          }
          out[static_cast<size_t>(r)] = bestI;
        }
      }
      pending.clear();
    };
    for (int64_t r = 0; r < n; r++) {
      const float* q = x + r * stride + off;
      const int32_t hit = ExactRow(q);
      if (hit >= 0) {
        out[static_cast<size_t>(r)] = hit;
        continue;
      }
      // unitQueryInto: the query in float64 over its L2 norm (left as is when the norm is 0)
      const int64_t i = static_cast<int64_t>(pending.size());
      double* u = uq.data() + i * dim;
      double norm = 0;
      for (int d = 0; d < dim; d++) {
        u[d] = q[d];
        norm += u[d] * u[d];
      }
      norm = std::sqrt(norm);
      if (norm > 0)
        for (int d = 0; d < dim; d++) u[d] /= norm;
      for (int d = 0; d < dim; d++) qf[static_cast<size_t>(i * dim + d)] = static_cast<float>(u[d]);
      pending.push_back(r);
      if (static_cast<int64_t>(pending.size()) == kBatch) flush();
    }
    flush();
    return out;
  }

  Napi::Value Clusters(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(clusters_.size())); }
  // Rows scored so far over all queries (for benchmarks: the share of the vocabulary a query scans).
  Napi::Value Scanned(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(scanned_)); }

  std::vector<float> dirT_, cosT_, sinT_, nmin_, nmax_, base_, slackQ_, ub_, dot_;
  std::vector<std::vector<int32_t>> lists_;
  int n_ = 0, dim_ = 0, cstride_ = 0;
  std::vector<float> wt_;
  std::vector<int32_t> perm_;
  // the current search's gap (ScanCluster's kernel offers only rows within it of the best)
  double gap_ = -1;
  // the vectors as given (row-major) and the exact-match table over them
  std::vector<float> vec_;
  std::unordered_map<uint64_t, std::vector<int32_t>> exact_;
  bool exactBuilt_ = false;
  std::vector<Cluster> clusters_;
  int64_t scanned_ = 0;
#ifdef NETSHARE_X86
  ClusterKernel cluster_ = nullptr;
#endif
};
}  // namespace

void RegisterNearest(Napi::Env env, Napi::Object exports) {
  exports.Set("nearestTopK", Napi::Function::New(env, NearestTopK));
  exports.Set("PrunedVocab", PrunedVocab::Define(env));
}

}  // namespace netshare
