// rowUniforms (src/pipeline/ephemeral-ports.ts) over many rows and salts at once: two uniforms per row and salt from the
// float bits of its nonzero values, the same values bit for bit (32-bit integer mixing). A generated attribute row at
// the netflow preset has ~100 nonzeros of 696 values, and a decode keys each row up to four times (flow key, flow-start
// bin, two ports): one pass, the salts' chains side by side, instead of a JavaScript loop per salt.
#include <napi.h>

#include <cstdint>
#include <cstring>

#include "napi_modules.h"

namespace netshare {
namespace {

// 32-bit murmur3 finaliser (ephemeral-ports.ts mix)
inline uint32_t Mix(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// rowUniformsMany(rows: Float32Array [n * A], A: number, salts: Uint32Array (≤ 8), skip0, skip1)
//   → Float64Array [n * 2 * salts]: RowUniforms for each salt of each whole row (the pairs of row r at 2·k·r), one
//   pass over a row's values for all its salts (the salts' mixing chains are independent: they run side by side)
Napi::Value RowUniformsMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsTypedArray() || !info[2].IsTypedArray()) throw Napi::TypeError::New(env, "rowUniformsMany(rows, A, salts, skip0, skip1)");
  auto rows = info[0].As<Napi::Float32Array>();
  const int64_t A = info[1].As<Napi::Number>().Int64Value();
  auto salts = info[2].As<Napi::Uint32Array>();
  const int64_t s0 = info[3].As<Napi::Number>().Int64Value();
  const int64_t s1 = info[4].As<Napi::Number>().Int64Value();
  constexpr int kMaxSalts = 8;
  const int k = static_cast<int>(salts.ElementLength());
  if (A < 1 || k < 1 || k > kMaxSalts) throw Napi::RangeError::New(env, "rowUniformsMany: need A ≥ 1 and 1 to 8 salts");
  if (rows.ElementLength() % static_cast<size_t>(A) != 0) throw Napi::RangeError::New(env, "rowUniformsMany: rows must hold whole rows of A values");
  const int64_t n = static_cast<int64_t>(rows.ElementLength()) / A;
  auto out = Napi::Float64Array::New(env, static_cast<size_t>(2 * k * n));
  uint32_t start1[kMaxSalts], start2[kMaxSalts];
  for (int j = 0; j < k; j++) {
    start1[j] = Mix(0x9e3779b9u ^ salts[static_cast<size_t>(j)]);
    start2[j] = Mix(0x7f4a7c15u + salts[static_cast<size_t>(j)]);
  }
  const float* base = rows.Data();
  for (int64_t r = 0; r < n; r++) {
    const float* row = base + r * A;
    uint32_t h1[kMaxSalts], h2[kMaxSalts];
    for (int j = 0; j < k; j++) h1[j] = start1[j], h2[j] = start2[j];
    for (int64_t i = 0; i < A; i++) {
      uint32_t b;
      std::memcpy(&b, row + i, 4);
      if (b == 0 || (i >= s0 && i < s1)) continue;
      const uint32_t c1 = b ^ (static_cast<uint32_t>(i + 1) * 0x9e3779b1u);
      const uint32_t c2 = b + static_cast<uint32_t>(i);
      for (int j = 0; j < k; j++) {
        h1[j] = Mix(h1[j] ^ c1);
        h2[j] = Mix(h2[j] + c2);
      }
    }
    double* o = out.Data() + 2 * k * r;
    for (int j = 0; j < k; j++) {
      o[2 * j] = h1[j] / 4294967296.0;
      o[2 * j + 1] = h2[j] / 4294967296.0;
    }
  }
  return out;
}

}  // namespace

void RegisterRowHash(Napi::Env env, Napi::Object exports) {
  exports.Set("rowUniformsMany", Napi::Function::New(env, RowUniformsMany));
}

}  // namespace netshare
