// The feature generator's attribute projection, discreteOf(rows) · Wa + b (src/model/networks.ts featureGeneratorParts),
// over sparse rows: a softmax field of a row is one-hot after discreteOf, so its product is the weight row of its
// arg-max, and a zero of another field adds nothing. At the netflow preset a row [696] has ~95 values that are not zero
// (the 256-way IP fields are one-hot, the bit fields two-way): ~12k multiply-adds instead of the dense 89k.
// The sums run in input order (fused multiply-adds where the CPU has them), then the bias: the graph's MatMul sums in
// its own blocks, so the two differ by float32 rounding (~1e-6 at the netflow preset's magnitudes).
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "napi_modules.h"

namespace netshare {
namespace {

// dst[0..H) = Σ over the nonzeros (k, x) of x · W[k] (input order), then + bias
void RowScalar(const std::pair<int32_t, float>* nz, size_t n, const float* W, int H, const float* bias, float* dst) {
  for (int h = 0; h < H; h++) dst[h] = 0.0f;
  for (size_t i = 0; i < n; i++) {
    const float* w = W + static_cast<int64_t>(nz[i].first) * H;
    const float x = nz[i].second;
    for (int h = 0; h < H; h++) dst[h] += x * w[h];
  }
  for (int h = 0; h < H; h++) dst[h] += bias[h];
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
// RowScalar with fused multiply-adds, 64 outputs at a time held in 8 registers over all the nonzeros
__attribute__((target("avx2,fma"))) void RowAvx2(const std::pair<int32_t, float>* nz, size_t n, const float* W, int H, const float* bias, float* dst) {
  int h0 = 0;
  for (; h0 + 64 <= H; h0 += 64) {
    __m256 acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
    for (size_t i = 0; i < n; i++) {
      const float* w = W + static_cast<int64_t>(nz[i].first) * H + h0;
      const __m256 x = _mm256_set1_ps(nz[i].second);
      for (int j = 0; j < 8; j++) acc[j] = _mm256_fmadd_ps(x, _mm256_loadu_ps(w + 8 * j), acc[j]);
    }
    for (int j = 0; j < 8; j++) _mm256_storeu_ps(dst + h0 + 8 * j, _mm256_add_ps(acc[j], _mm256_loadu_ps(bias + h0 + 8 * j)));
  }
  for (; h0 < H; h0++) {
    float a = 0.0f;
    for (size_t i = 0; i < n; i++) a = std::fma(nz[i].second, W[static_cast<int64_t>(nz[i].first) * H + h0], a);
    dst[h0] = a + bias[h0];
  }
}
// ArgMax of p[0..dim) as the scalar loop finds it, 8 values a step: the largest value that is not NaN, then its first
// index (the first value when it is NaN)
__attribute__((target("avx2,fma"))) int32_t ArgMaxAvx2(const float* p, int32_t dim) {
  if (std::isnan(p[0])) return 0;
  __m256 mx = _mm256_set1_ps(p[0]);
  int32_t j = 0;
  // (a NaN lane keeps the running maximum: MAXPS returns its second operand)
  for (; j + 8 <= dim; j += 8) mx = _mm256_max_ps(_mm256_loadu_ps(p + j), mx);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, mx);
  float m = lanes[0];
  for (int l = 1; l < 8; l++) m = lanes[l] > m ? lanes[l] : m;
  for (; j < dim; j++) m = p[j] > m ? p[j] : m;
  const __m256 m8 = _mm256_set1_ps(m);
  int32_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    const int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p + i), m8, _CMP_EQ_OQ));
    if (mask != 0) return i + __builtin_ctz(static_cast<unsigned>(mask));
  }
  for (; i < dim; i++)
    if (p[i] == m) return i;
  return 0;
}
#endif

// projectAttributes(rows: Float32Array [m * A], m, A, fields: Int32Array [nf * 3] (offset, dim, 1 = softmax),
//                   wa: Float32Array [A * H], H, bias: Float32Array [H]) → Float32Array [m * H]
Napi::Value ProjectAttributes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 7 || !info[0].IsTypedArray() || !info[3].IsTypedArray() || !info[4].IsTypedArray() || !info[6].IsTypedArray()) {
    throw Napi::TypeError::New(env, "projectAttributes(rows, m, A, fields, wa, H, bias)");
  }
  auto rows = info[0].As<Napi::Float32Array>();
  const int64_t m = info[1].As<Napi::Number>().Int64Value();
  const int64_t A = info[2].As<Napi::Number>().Int64Value();
  auto fields = info[3].As<Napi::Int32Array>();
  auto wa = info[4].As<Napi::Float32Array>();
  const int64_t H = info[5].As<Napi::Number>().Int64Value();
  auto bias = info[6].As<Napi::Float32Array>();
  if (m < 0 || A < 1 || H < 1 || H > 1 << 16) throw Napi::RangeError::New(env, "projectAttributes: need m ≥ 0, A ≥ 1, 1 ≤ H ≤ 65536");
  if (static_cast<int64_t>(rows.ElementLength()) < m * A) throw Napi::RangeError::New(env, "projectAttributes: rows must hold m * A values");
  if (static_cast<int64_t>(wa.ElementLength()) != A * H || static_cast<int64_t>(bias.ElementLength()) != H) {
    throw Napi::RangeError::New(env, "projectAttributes: wa must hold A * H values and bias H");
  }
  const size_t nf = fields.ElementLength() / 3;
  if (fields.ElementLength() % 3 != 0) throw Napi::RangeError::New(env, "projectAttributes: fields holds (offset, dim, softmax) triples");
  // the fields must tile [0, A) in order
  int64_t next = 0;
  for (size_t f = 0; f < nf; f++) {
    if (fields[3 * f] != next || fields[3 * f + 1] < 1) throw Napi::RangeError::New(env, "projectAttributes: fields must tile [0, A) in order");
    next += fields[3 * f + 1];
  }
  if (next != A) throw Napi::RangeError::New(env, "projectAttributes: fields must tile [0, A) in order");
  auto out = Napi::Float32Array::New(env, static_cast<size_t>(m * H));
  const float* W = wa.Data();
  const float* x = rows.Data();
  float* o = out.Data();
#if defined(__x86_64__) || defined(__i386__)
  const bool fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  const bool fma = false;
#endif
  // the row's values that are not zero: (input, value), in input order
  std::vector<std::pair<int32_t, float>> nz;
  nz.reserve(static_cast<size_t>(A));
  for (int64_t r = 0; r < m; r++) {
    const float* row = x + r * A;
    nz.clear();
    for (size_t f = 0; f < nf; f++) {
      const int32_t off = fields[3 * f], dim = fields[3 * f + 1];
      if (fields[3 * f + 2] == 1) {
        // ArgMax: the first largest value (a NaN never wins past the first)
        int32_t best = 0;
#if defined(__x86_64__) || defined(__i386__)
        if (fma && dim >= 16) best = ArgMaxAvx2(row + off, dim);
        else
#endif
          for (int32_t j = 1; j < dim; j++)
            if (row[off + j] > row[off + best]) best = j;
        nz.emplace_back(off + best, 1.0f);
      } else {
        for (int32_t j = 0; j < dim; j++)
          if (row[off + j] != 0) nz.emplace_back(off + j, row[off + j]);
      }
    }
#if defined(__x86_64__) || defined(__i386__)
    if (fma) RowAvx2(nz.data(), nz.size(), W, static_cast<int>(H), bias.Data(), o + r * H);
    else
#endif
      RowScalar(nz.data(), nz.size(), W, static_cast<int>(H), bias.Data(), o + r * H);
  }
  return out;
}

}  // namespace

void RegisterProject(Napi::Env env, Napi::Object exports) { exports.Set("projectAttributes", Napi::Function::New(env, ProjectAttributes)); }

}  // namespace netshare
