// sampleCategoricals' draws (src/pipeline/categoricals.ts) in the native addon: per row and categorical slice, an index
// drawn with weight max(0, soft value) by a given uniform (drawIndex, in float64 as JavaScript sums), written into
// the discrete rows as a one-hot. The uniforms come from the caller's stream, so the draws equal drawIndex's.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "napi_modules.h"

namespace netshare {
namespace {

// Math.max(0, x): NaN stays NaN, −0 becomes +0
inline double Weight(float x) { return std::isnan(x) ? std::numeric_limits<double>::quiet_NaN() : (x > 0 ? static_cast<double>(x) : 0.0); }

// drawIndex(src, off, dim, u)
inline int32_t DrawIndex(const float* src, int32_t dim, double u) {
  double total = 0;
  for (int32_t i = 0; i < dim; i++) total += Weight(src[i]);
  if (!(total > 0)) {
    const double f = std::floor(u * dim);
    return static_cast<int32_t>(f < dim - 1 ? f : dim - 1);
  }
  const double target = u * total;
  double acc = 0;
  for (int32_t i = 0; i < dim; i++) {
    acc += Weight(src[i]);
    if (target < acc) return i;
  }
  return dim - 1;
}

// drawCategoricals(soft: Float32Array [n * A], discrete: Float32Array [n * A], n, A, slices: Int32Array [k * 2]
//                  (offset, dim), u: Float64Array [n * k]): row r's slice j drawn by u[r * k + j] (a NaN uniform: the
//                  row is left as it is)
Napi::Value DrawCategoricals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[4].IsTypedArray() || !info[5].IsTypedArray()) {
    throw Napi::TypeError::New(env, "drawCategoricals(soft, discrete, n, A, slices, u)");
  }
  auto soft = info[0].As<Napi::Float32Array>();
  auto discrete = info[1].As<Napi::Float32Array>();
  const int64_t n = info[2].As<Napi::Number>().Int64Value();
  const int64_t A = info[3].As<Napi::Number>().Int64Value();
  auto slices = info[4].As<Napi::Int32Array>();
  auto u = info[5].As<Napi::Float64Array>();
  const int64_t k = static_cast<int64_t>(slices.ElementLength() / 2);
  if (n < 0 || A < 1 || slices.ElementLength() % 2 != 0) throw Napi::RangeError::New(env, "drawCategoricals: need n ≥ 0, A ≥ 1, (offset, dim) pairs");
  if (static_cast<int64_t>(soft.ElementLength()) < n * A || static_cast<int64_t>(discrete.ElementLength()) < n * A) {
    throw Napi::RangeError::New(env, "drawCategoricals: soft and discrete must hold n * A values");
  }
  if (static_cast<int64_t>(u.ElementLength()) < n * k) throw Napi::RangeError::New(env, "drawCategoricals: u must hold n * slices values");
  const int32_t* sl = slices.Data();
  for (int64_t j = 0; j < k; j++) {
    if (sl[2 * j] < 0 || sl[2 * j + 1] < 1 || static_cast<int64_t>(sl[2 * j]) + sl[2 * j + 1] > A) throw Napi::RangeError::New(env, "drawCategoricals: a slice lies outside the row");
  }
  const float* s = soft.Data();
  float* d = discrete.Data();
  for (int64_t r = 0; r < n; r++) {
    for (int64_t j = 0; j < k; j++) {
      const double uj = u[static_cast<size_t>(r * k + j)];
      if (std::isnan(uj)) continue;
      const int64_t o = r * A + sl[2 * j];
      const int32_t dim = sl[2 * j + 1];
      const int32_t pick = DrawIndex(s + o, dim, uj);
      for (int32_t i = 0; i < dim; i++) d[o + i] = i == pick ? 1.0f : 0.0f;
    }
  }
  return env.Undefined();
}

}  // namespace

void RegisterCategoricals(Napi::Env env, Napi::Object exports) { exports.Set("drawCategoricals", Napi::Function::New(env, DrawCategoricals)); }

}  // namespace netshare
