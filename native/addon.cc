// N-API entry of the netshare native addon: registers the reader and writer glue.
#include <napi.h>
#include <pcap/pcap.h>

#include "napi_modules.h"

namespace netshare {
static Napi::Value LibpcapVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), pcap_lib_version());
}
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("libpcapVersion", Napi::Function::New(env, LibpcapVersion));
  RegisterReader(env, exports);
  RegisterWriter(env, exports);
  return exports;
}
}  // namespace netshare

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return netshare::Init(env, exports); }
NODE_API_MODULE(netshare_native, InitModule)
