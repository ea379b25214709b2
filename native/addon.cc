// N-API entry of the netshare native addon: registers the reader and writer glue.
#include <napi.h>
#include <pcap/pcap.h>

#include "mapping_pool.h"
#include "napi_modules.h"

namespace netshare {
static Napi::Value LibpcapVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), pcap_lib_version());
}
// {mappings, bytes, reused}: the pool of released large mappings (mapping_pool.h), for tests and benchmarks.
static Napi::Value MappingPool(const Napi::CallbackInfo& info) {
  const MappingPoolStats s = PoolStats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("mappings", static_cast<double>(s.mappings));
  o.Set("bytes", static_cast<double>(s.bytes));
  o.Set("reused", static_cast<double>(s.reused));
  return o;
}
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("libpcapVersion", Napi::Function::New(env, LibpcapVersion));
  exports.Set("mappingPool", Napi::Function::New(env, MappingPool));
  RegisterReader(env, exports);
  RegisterWriter(env, exports);
  RegisterNearest(env, exports);
  RegisterProject(env, exports);
  RegisterRowHash(env, exports);
  RegisterCategoricals(env, exports);
  return exports;
}
}  // namespace netshare

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return netshare::Init(env, exports); }
NODE_API_MODULE(netshare_native, InitModule)
