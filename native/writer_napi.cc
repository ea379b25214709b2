// N-API glue for the writer: `writePcap(path, columns, options)` runs WritePacketsToFile on a worker thread.
#include <chrono>
#include <string>

#include "napi_modules.h"
#include "writer.h"

namespace netshare {
namespace {

// Typed-array column `name` of `obj` as a T pointer holding at least `n * per_row` elements. Throws a
// JS TypeError when it is absent or of the wrong type (the TypeScript layer validates first; this guards the ABI).
template <typename T>
const T* Column(const Napi::Object& obj, const char* name, napi_typedarray_type type, size_t n, size_t per_row,
                bool optional = false) {
  Napi::Value v = obj.Get(name);
  if (optional && (v.IsUndefined() || v.IsNull())) return nullptr;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(obj.Env(), std::string("Expected a typed array of the right type for ") + name);
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.ElementLength() < n * per_row)
    throw Napi::TypeError::New(obj.Env(), std::string("Expected at least ") + std::to_string(n * per_row) +
                                              " elements in " + name + " but received " +
                                              std::to_string(ta.ElementLength()));
  // Data() materialises the ArrayBuffer off the V8 heap, so the pointer stays valid while the table is referenced.
  Napi::ArrayBuffer ab = ta.ArrayBuffer();
  return reinterpret_cast<const T*>(static_cast<const uint8_t*>(ab.Data()) + ta.ByteOffset());
}

class WriteWorker : public Napi::AsyncWorker {
 public:
  WriteWorker(Napi::Env env, std::string path, const PacketColumns& cols, const WriterOptions& opt, Napi::Object table)
      : Napi::AsyncWorker(env, "netshare:writePcap"),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        cols_(cols),
        opt_(opt),
        table_(Napi::Persistent(table)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      result_ = WritePacketsToFile(path_, cols_, opt_);
    } catch (const WriterInputError& e) {
      kind_ = "EROW";
      row_ = static_cast<double>(e.row());
      SetError(e.what());
    } catch (const std::exception& e) {
      kind_ = "EIO";
      SetError(e.what());
    }
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object r = Napi::Object::New(env);
    r.Set("packets", Napi::Number::New(env, static_cast<double>(result_.packets)));
    r.Set("bytes", Napi::Number::New(env, static_cast<double>(result_.bytes)));
    r.Set("seconds", Napi::Number::New(env, seconds_));
    r.Set("nanosecond", Napi::Boolean::New(env, result_.nanosecond));
    deferred_.Resolve(r);
  }

  void OnError(const Napi::Error& e) override {
    Napi::Object err = e.Value();
    err.Set("code", Napi::String::New(Env(), kind_));
    if (row_ >= 0) err.Set("row", Napi::Number::New(Env(), row_));
    deferred_.Reject(err);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  PacketColumns cols_;
  WriterOptions opt_;
  Napi::ObjectReference table_;  // keeps the column arrays alive while the worker reads them
  WriteResult result_;
  double seconds_ = 0;
  std::string kind_ = "EIO";
  double row_ = -1;
};

Napi::Value WritePcap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsObject() || !info[2].IsObject())
    throw Napi::TypeError::New(env, "Expected (path: string, columns: object, options: object) for writePcap");
  Napi::Object t = info[1].As<Napi::Object>();
  Napi::Object o = info[2].As<Napi::Object>();
  const double len = t.Get("length").ToNumber().DoubleValue();
  if (!(len >= 0) || len != static_cast<double>(static_cast<size_t>(len)))
    throw Napi::TypeError::New(env, "Expected a non-negative integer for columns.length");
  PacketColumns c;
  const size_t n = static_cast<size_t>(len);
  c.n = n;
  c.time_us = Column<double>(t, "time", napi_float64_array, n, 1);
  c.time_ns = Column<int64_t>(t, "timeNs", napi_bigint64_array, n, 1, true);
  c.ip_version = Column<uint8_t>(t, "ipVersion", napi_uint8_array, n, 1);
  c.src_ip = Column<uint32_t>(t, "srcIp", napi_uint32_array, n, 1);
  c.dst_ip = Column<uint32_t>(t, "dstIp", napi_uint32_array, n, 1);
  c.src_ip6 = Column<uint8_t>(t, "srcIp6", napi_uint8_array, n, 16, true);
  c.dst_ip6 = Column<uint8_t>(t, "dstIp6", napi_uint8_array, n, 16, true);
  c.src_port = Column<uint16_t>(t, "srcPort", napi_uint16_array, n, 1);
  c.dst_port = Column<uint16_t>(t, "dstPort", napi_uint16_array, n, 1);
  c.proto = Column<uint8_t>(t, "proto", napi_uint8_array, n, 1);
  c.pkt_len = Column<uint32_t>(t, "pktLen", napi_uint32_array, n, 1);
  c.ihl = Column<uint8_t>(t, "ihl", napi_uint8_array, n, 1);
  c.tos = Column<uint8_t>(t, "tos", napi_uint8_array, n, 1);
  c.ip_id = Column<uint32_t>(t, "ipId", napi_uint32_array, n, 1);
  c.flags = Column<uint8_t>(t, "flags", napi_uint8_array, n, 1);
  c.frag_offset = Column<uint16_t>(t, "fragOffset", napi_uint16_array, n, 1);
  c.ttl = Column<uint8_t>(t, "ttl", napi_uint8_array, n, 1);
  c.tcp_flags = Column<uint8_t>(t, "tcpFlags", napi_uint8_array, n, 1);
  c.tcp_window = Column<uint16_t>(t, "tcpWindow", napi_uint16_array, n, 1);

  WriterOptions opt;
  const std::string format = o.Get("format").ToString().Utf8Value();
  const std::string mode = o.Get("mode").ToString().Utf8Value();
  if (format != "pcap" && format != "pcapng") throw Napi::TypeError::New(env, "Expected 'pcap' or 'pcapng' for format");
  if (mode != "header-only" && mode != "full") throw Napi::TypeError::New(env, "Expected 'header-only' or 'full' for mode");
  opt.format = format == "pcap" ? FileFormat::kPcap : FileFormat::kPcapng;
  opt.mode = mode == "full" ? RecordMode::kFull : RecordMode::kHeaderOnly;
  const Napi::Value ns = o.Get("nanosecond");
  opt.nanosecond_auto = ns.IsString() && ns.As<Napi::String>().Utf8Value() == "auto";
  opt.nanosecond = !opt.nanosecond_auto && ns.ToBoolean().Value();
  const uint32_t lt = o.Get("linktype").ToNumber().Uint32Value();
  if (lt != kLinktypeRaw && lt != kLinktypeEthernet) throw Napi::TypeError::New(env, "Expected linktype 1 or 101");
  opt.linktype = lt;

  auto* w = new WriteWorker(env, info[0].As<Napi::String>().Utf8Value(), c, opt, t);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void RegisterWriter(Napi::Env env, Napi::Object exports) {
  exports.Set("writePcap", Napi::Function::New(env, WritePcap, "writePcap"));
}

}  // namespace netshare
