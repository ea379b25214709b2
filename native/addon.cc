// N-API glue of the netshare native addon (placeholder until the reader lands: exposes the libpcap version).
#include <napi.h>
#include <pcap/pcap.h>

namespace netshare {
Napi::Value LibpcapVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), pcap_lib_version());
}
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("libpcapVersion", Napi::Function::New(env, LibpcapVersion));
  return exports;
}
}  // namespace netshare

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return netshare::Init(env, exports); }
NODE_API_MODULE(netshare_native, InitModule)
