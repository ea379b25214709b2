// Registration hooks of the addon's N-API glue files; addon.cc calls each one on module load.
#pragma once
#include <napi.h>

namespace netshare {
// Adds the reader (NativeReader) and its column list (packetColumns) from native/reader_napi.cc to `exports`.
void RegisterReader(Napi::Env env, Napi::Object exports);
// Adds the pcap/pcapng writer functions (native/writer_napi.cc) to `exports`.
void RegisterWriter(Napi::Env env, Napi::Object exports);
// Adds nearestTopK (native/nearest.cc): top-k vocabulary rows of query vectors, for batched embedding decoding.
void RegisterNearest(Napi::Env env, Napi::Object exports);
// Adds projectAttributes (native/project.cc): the feature generator's attribute projection over sparse rows.
void RegisterProject(Napi::Env env, Napi::Object exports);
// Adds rowUniformsMany (native/rowhash.cc): ephemeral-ports.ts rowUniforms over many rows and salts at once.
void RegisterRowHash(Napi::Env env, Napi::Object exports);
// Adds drawCategoricals (native/categoricals.cc): categoricals.ts sampleCategoricals' draws over many rows.
void RegisterCategoricals(Napi::Env env, Napi::Object exports);
}  // namespace netshare
