// N-API glue for the reader: a NativeReader object whose nextBatch(capacity) fills one batch of typed-array
// columns on a worker thread (AsyncWorker) and resolves with them, plus the flows closed meanwhile and the stats.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "napi_modules.h"
#include "reader.h"

namespace netshare {
namespace {

constexpr size_t Align8(size_t v) { return (v + 7) & ~size_t{7}; }

class NativeReader;

class FillWorker : public Napi::AsyncWorker {
 public:
  // `recycle`: an ArrayBuffer of an earlier batch the caller no longer uses (reused when large enough), or empty.
  FillWorker(Napi::Env env, NativeReader* owner, Napi::Object self, uint32_t capacity, Napi::Value recycle);
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  NativeReader* owner_;
  Napi::ObjectReference self_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  Napi::Promise::Deferred deferred_;
  BatchColumns cols_;
  std::vector<size_t> offsets_;
  std::vector<FlowRecord> flows_;
  uint32_t count_ = 0;
  size_t total_ = 0;
  bool recycled_ = false;  // buffer reused (Fill overwrites its rows, IPv6 address columns included)
  bool done_ = false;
  int64_t bytes_read_ = 0;
  std::string err_kind_;
  int64_t err_offset_ = -1;
};

class NativeReader : public Napi::ObjectWrap<NativeReader> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeReader",
                       {InstanceMethod("nextBatch", &NativeReader::NextBatch), InstanceMethod("close", &NativeReader::Close)});
  }

  explicit NativeReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeReader>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject())
      throw Napi::TypeError::New(env, "NativeReader(path: string, options: object)");
    Napi::Object o = info[1].As<Napi::Object>();
    ReaderOptions opts;
    if (o.Has("filter") && o.Get("filter").IsString()) opts.filter = o.Get("filter").As<Napi::String>().Utf8Value();
    if (o.Has("flows")) opts.flows = o.Get("flows").ToBoolean().Value();
    if (o.Has("keepValidPrefix")) opts.keep_valid_prefix = o.Get("keepValidPrefix").ToBoolean().Value();
    opts.leave_final_flows = true;  // FlowsObject reads the flows open at the end from the table (no copy)
    if (o.Has("inactiveNs") && o.Get("inactiveNs").IsNumber()) opts.inactive_ns = static_cast<int64_t>(o.Get("inactiveNs").As<Napi::Number>().DoubleValue());
    if (o.Has("activeNs") && o.Get("activeNs").IsNumber()) opts.active_ns = static_cast<int64_t>(o.Get("activeNs").As<Napi::Number>().DoubleValue());
    flows_ = opts.flows;
    reader_ = std::make_unique<Reader>(info[0].As<Napi::String>().Utf8Value(), opts);
  }

  Reader* reader() { return reader_.get(); }
  bool flows() const { return flows_; }
  void set_busy(bool b) { busy_ = b; }
  void ReleaseIfClosed() {
    if (closed_) reader_.reset();
  }

 private:
  Napi::Value NextBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (busy_) throw Napi::Error::New(env, "nextBatch called while a batch is still being read");
    if (!reader_) throw Napi::Error::New(env, "the reader is closed");
    double cap = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 65536;
    if (!(cap >= 1 && cap <= (1 << 24))) throw Napi::RangeError::New(env, "batch capacity must be within 1..16777216");
    busy_ = true;
    auto* w = new FillWorker(env, this, info.This().As<Napi::Object>(), static_cast<uint32_t>(cap),
                             info.Length() > 1 ? info[1] : env.Undefined());
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    closed_ = true;
    if (!busy_) reader_.reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<Reader> reader_;
  bool flows_ = false, busy_ = false, closed_ = false;
};

FillWorker::FillWorker(Napi::Env env, NativeReader* owner, Napi::Object self, uint32_t capacity, Napi::Value recycle)
    : Napi::AsyncWorker(env, "netshare:read"), owner_(owner), self_(Napi::Persistent(self)), deferred_(Napi::Promise::Deferred::New(env)) {
  size_t total = 0;
#define NETSHARE_OFFSET(name, type, width) \
  offsets_.push_back(total);               \
  total = Align8(total + (std::string(#name) == "flowId" && !owner->flows() ? 0 : size_t{width} * capacity));
  NETSHARE_PACKET_COLUMNS(NETSHARE_OFFSET)
#undef NETSHARE_OFFSET
  total_ = total;
  // A fresh ArrayBuffer costs page faults on every batch; a returned one is reused (Fill overwrites its rows).
  Napi::ArrayBuffer ab;
  if (recycle.IsArrayBuffer() && recycle.As<Napi::ArrayBuffer>().ByteLength() >= total) {
    ab = recycle.As<Napi::ArrayBuffer>();
    recycled_ = true;
  } else {
    ab = Napi::ArrayBuffer::New(env, total);
  }
  buffer_ = Napi::Persistent(ab);
  uint8_t* base = static_cast<uint8_t*>(ab.Data());
  size_t k = 0;
#define NETSHARE_PTR(name, type, width) cols_.name = reinterpret_cast<type*>(base + offsets_[k++]);
  NETSHARE_PACKET_COLUMNS(NETSHARE_PTR)
#undef NETSHARE_PTR
  if (!owner->flows()) cols_.flowId = nullptr;
  cols_.capacity = capacity;
  cols_.ip6_zeroed = !recycled_;  // a reused buffer is not cleared: Fill writes every column of its rows
}

void FillWorker::Execute() {
  try {
    count_ = owner_->reader()->Fill(cols_, flows_, done_);
    bytes_read_ = owner_->reader()->bytes_read();
  } catch (const ReaderError& e) {
    err_kind_ = e.kind;
    err_offset_ = e.offset;
    SetError(e.what());
  } catch (const std::bad_alloc&) {
    err_kind_ = "internal";
    SetError("out of memory while reading");
  } catch (const std::exception& e) {
    err_kind_ = "internal";
    SetError(e.what());
  }
}

Napi::Value MakeArray(Napi::Env env, napi_typedarray_type t, Napi::ArrayBuffer ab, size_t offset, size_t length) {
  napi_value v;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, t, length, ab, offset, &v), Napi::Value());
  return Napi::Value(env, v);
}

// The JavaScript typed array of each C column type: its N-API kind and its constructor's name.
template <typename T>
struct ColumnArray;
template <> struct ColumnArray<int64_t> { static constexpr napi_typedarray_type kType = napi_bigint64_array; static constexpr const char* kName = "BigInt64Array"; };
template <> struct ColumnArray<double> { static constexpr napi_typedarray_type kType = napi_float64_array; static constexpr const char* kName = "Float64Array"; };
template <> struct ColumnArray<uint8_t> { static constexpr napi_typedarray_type kType = napi_uint8_array; static constexpr const char* kName = "Uint8Array"; };
template <> struct ColumnArray<uint16_t> { static constexpr napi_typedarray_type kType = napi_uint16_array; static constexpr const char* kName = "Uint16Array"; };
template <> struct ColumnArray<uint32_t> { static constexpr napi_typedarray_type kType = napi_uint32_array; static constexpr const char* kName = "Uint32Array"; };

// NETSHARE_PACKET_COLUMNS as [{name, array, bytes}] (bytes per packet), so a test can check the TypeScript batch type
// (PACKET_BATCH_COLUMNS in src/native/reader.ts) against the columns the addon really hands out.
Napi::Array PacketColumnList(Napi::Env env) {
  Napi::Array list = Napi::Array::New(env);
  uint32_t k = 0;
#define NETSHARE_DESCRIBE(name, type, width)          \
  {                                                   \
    Napi::Object col = Napi::Object::New(env);        \
    col.Set("name", #name);                           \
    col.Set("array", ColumnArray<type>::kName);       \
    col.Set("bytes", static_cast<double>(width));     \
    list.Set(k++, col);                               \
  }
  NETSHARE_PACKET_COLUMNS(NETSHARE_DESCRIBE)
#undef NETSHARE_DESCRIBE
  return list;
}

Napi::Object StatsObject(Napi::Env env, Reader* r) {
  const ReaderStats& s = r->stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("format", s.format);
  Napi::Array lts = Napi::Array::New(env, s.linktypes.size());
  for (size_t i = 0; i < s.linktypes.size(); i++) lts.Set(static_cast<uint32_t>(i), s.linktypes[i]);
  o.Set("linktypes", lts);
#define NS_NUM(field, name) o.Set(name, static_cast<double>(s.field));
  NS_NUM(records, "records") NS_NUM(packets, "packets") NS_NUM(ipv4, "ipv4") NS_NUM(ipv6, "ipv6") NS_NUM(tcp, "tcp")
  NS_NUM(udp, "udp") NS_NUM(icmp, "icmp") NS_NUM(other_ip, "otherIp") NS_NUM(not_ip, "notIp")
  NS_NUM(undecodable, "undecodable") NS_NUM(truncated, "truncated") NS_NUM(fragments, "fragments")
  NS_NUM(clamped_ts, "clampedTs")
#undef NS_NUM
  o.Set("flows", static_cast<double>(r->flows_created()));
  if (s.has_ts) {
    o.Set("firstSec", std::to_string(s.first_sec));
    o.Set("firstNsec", s.first_nsec);
    o.Set("lastSec", std::to_string(s.last_sec));
    o.Set("lastNsec", s.last_nsec);
  }
  Napi::Array w = Napi::Array::New(env, s.warnings.size());
  for (size_t i = 0; i < s.warnings.size(); i++) w.Set(static_cast<uint32_t>(i), s.warnings[i]);
  o.Set("warnings", w);
  o.Set("totalBytes", static_cast<double>(r->total_bytes()));
  return o;
}

// Flow columns from the flows closed during a batch (`f`), then, after the last batch, the flows still open in
// `open` (read in place, in id order, and cleared: no copy of every flow into `f` first).
Napi::Object FlowsObject(Napi::Env env, const std::vector<FlowRecord>& f, FlowTable* open) {
  const std::vector<uint32_t> order = open ? open->IdOrder() : std::vector<uint32_t>();
  const size_t closed = f.size(), n = closed + (open ? open->open_flows() : 0);
  auto rec = [&](size_t k) -> const FlowRecord& { return k < closed ? f[k] : open->Open(k - closed, order); };
  Napi::Object o = Napi::Object::New(env);
  auto src = Napi::Uint32Array::New(env, n), dst = Napi::Uint32Array::New(env, n), id = Napi::Uint32Array::New(env, n);
  auto sport = Napi::Uint16Array::New(env, n), dport = Napi::Uint16Array::New(env, n);
  auto proto = Napi::Uint8Array::New(env, n), ver = Napi::Uint8Array::New(env, n), fl = Napi::Uint8Array::New(env, n);
  auto ts = Napi::Float64Array::New(env, n), td = Napi::Float64Array::New(env, n), pk = Napi::Float64Array::New(env, n),
       by = Napi::Float64Array::New(env, n);
  bool any6 = false;
  for (size_t i = 0; i < n; i++) {
    const FlowRecord& r = rec(i);
    if (r.key.version == 4) {
      std::memcpy(&src[i], r.key.src, 4);
      std::memcpy(&dst[i], r.key.dst, 4);
    } else {
      any6 = true;
    }
    sport[i] = r.key.sport;
    dport[i] = r.key.dport;
    proto[i] = r.key.proto;
    ver[i] = r.key.version;
    fl[i] = r.tcp_flags;
    id[i] = r.id;
    ts[i] = static_cast<double>(r.first_ns) / 1e3;
    td[i] = static_cast<double>(r.last_ns - r.first_ns) / 1e9;
    pk[i] = static_cast<double>(r.packets);
    by[i] = static_cast<double>(r.bytes);
  }
  // IPv6 address columns (32 bytes a flow) only when some flow is IPv6; otherwise empty.
  auto src6 = Napi::Uint8Array::New(env, any6 ? 16 * n : 0), dst6 = Napi::Uint8Array::New(env, any6 ? 16 * n : 0);
  if (any6) {
    for (size_t i = 0; i < n; i++) {
      const FlowRecord& r = rec(i);
      if (r.key.version != 6) continue;
      std::memcpy(src6.Data() + 16 * i, r.key.src, 16);
      std::memcpy(dst6.Data() + 16 * i, r.key.dst, 16);
    }
  }
  if (open) open->Clear();
  o.Set("length", static_cast<double>(n));
  o.Set("srcIp", src); o.Set("dstIp", dst); o.Set("srcIp6", src6); o.Set("dstIp6", dst6);
  o.Set("srcPort", sport); o.Set("dstPort", dport); o.Set("proto", proto); o.Set("ipVersion", ver);
  o.Set("tcpFlags", fl); o.Set("id", id); o.Set("ts", ts); o.Set("td", td); o.Set("pkt", pk); o.Set("byt", by);
  return o;
}

void FillWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  owner_->set_busy(false);
  Napi::ArrayBuffer ab = buffer_.Value();
  Napi::Object cols = Napi::Object::New(env);
  size_t k = 0;
#define NETSHARE_VIEW(name, type, width)                                                                          \
  {                                                                                                               \
    const size_t off = offsets_[k++];                                                                             \
    constexpr napi_typedarray_type t = ColumnArray<type>::kType;                                                  \
    if (cols_.name) cols.Set(#name, MakeArray(env, t, ab, off, size_t{width} * count_ / (t == napi_uint8_array ? 1 : width))); \
  }
  NETSHARE_PACKET_COLUMNS(NETSHARE_VIEW)
#undef NETSHARE_VIEW
  Napi::Object res = Napi::Object::New(env);
  res.Set("count", count_);
  res.Set("done", done_);
  res.Set("columns", cols);
  res.Set("flows", FlowsObject(env, flows_, done_ ? owner_->reader()->final_flows() : nullptr));
  res.Set("stats", StatsObject(env, owner_->reader()));
  res.Set("bytesRead", static_cast<double>(bytes_read_));
  owner_->ReleaseIfClosed();
  deferred_.Resolve(res);
}

void FillWorker::OnError(const Napi::Error& e) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  owner_->set_busy(false);
  Napi::Error err = Napi::Error::New(env, e.Message());
  err.Set("kind", err_kind_.empty() ? "internal" : err_kind_);
  err.Set("offset", static_cast<double>(err_offset_));
  owner_->ReleaseIfClosed();
  deferred_.Reject(err.Value());
}

}  // namespace

void RegisterReader(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeReader", NativeReader::Define(env));
  exports.Set("packetColumns", PacketColumnList(env));
}

}  // namespace netshare
