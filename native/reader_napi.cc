// N-API glue for the reader: a NativeReader object whose nextBatch(capacity) fills one batch of typed-array
// columns on a worker thread (AsyncWorker) and resolves with them, plus the flows closed meanwhile and the stats.
#include <sys/mman.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "mapping_pool.h"
#include "napi_modules.h"
#include "reader.h"

namespace netshare {
namespace {

constexpr size_t Align8(size_t v) { return (v + 7) & ~size_t{7}; }

// Memory of one batch's columns, owned natively and shared: the worker thread holds it while it fills it, and each
// JavaScript ArrayBuffer over it holds it until garbage collection. So nothing JavaScript does to a buffer (detach it,
// transfer it, drop it) can free memory a worker is still writing.
// Blocks of 4 MiB or more come from the mapping pool (mapping_pool.h): the pages of a block collected earlier are
// reused instead of faulted in and zeroed again by the kernel. No huge pages: a block is written once from end to end,
// and fresh 4 KiB pages faulted in several times faster than fresh huge pages on this VM (kMapHugePages).
struct Block {
  static constexpr size_t kMapped = size_t{4} << 20;
  explicit Block(size_t n) : bytes(n) {
    if (n >= kMapped) {
      data = static_cast<uint8_t*>(AcquireMapping(n, &mapped));  // zero-filled
      return;
    }
    data = static_cast<uint8_t*>(std::calloc(n ? n : 1, 1));  // zero-filled: fresh IPv6 address columns need no clearing
    if (!data) throw std::bad_alloc();
  }
  ~Block() {
    if (mapped) ReleaseMapping(data, mapped);
    else std::free(data);
  }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  uint8_t* data;
  size_t bytes;
  size_t mapped = 0;  // length of the mapping when mmap'd, else 0 (calloc)
  uint32_t capacity = 0;  // packet-column layout it was last filled with (0: not a packet block)
  bool flow_ids = false;
};

// An ArrayBuffer over `b` that keeps it alive until collected; a copy where the runtime refuses external buffers.
Napi::ArrayBuffer WrapBlock(Napi::Env env, const std::shared_ptr<Block>& b) {
  auto* hold = new std::shared_ptr<Block>(b);
  napi_value ab;
  const napi_status st = napi_create_external_arraybuffer(
      env, b->data, b->bytes, [](napi_env, void*, void* h) { delete static_cast<std::shared_ptr<Block>*>(h); }, hold, &ab);
  if (st == napi_ok) {
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(b->bytes));  // (never undone: a hint for the GC)
    return Napi::ArrayBuffer(env, ab);
  }
  delete hold;
  Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, b->bytes);
  std::memcpy(copy.Data(), b->data, b->bytes);
  return copy;
}

// Flow columns built on the worker thread: one block, the offsets of each column in it.
struct FlowColumns {
  std::shared_ptr<Block> block;
  size_t n = 0;
  bool any6 = false;
  size_t src, dst, id, sport, dport, proto, ver, fl, ts, td, pk, by, src6, dst6;
};

class NativeReader;

class FillWorker : public Napi::AsyncWorker {
 public:
  // `recycle`: an ArrayBuffer of an earlier batch the caller no longer uses (reused when it is one of this reader's
  // own blocks of the same layout), or empty.
  FillWorker(Napi::Env env, NativeReader* owner, Napi::Object self, uint32_t capacity, Napi::Value recycle);
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  void Resolve();
  void BuildFlowColumns();
  NativeReader* owner_;
  Napi::ObjectReference self_;
  Napi::Reference<Napi::ArrayBuffer> recycle_;  // the caller's buffer over block_ when it was reused
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Block> block_;
  BatchColumns cols_;
  std::vector<size_t> offsets_;
  std::vector<FlowRecord> flows_;
  FlowColumns flow_cols_;
  uint32_t count_ = 0;
  bool columns_ = true;
  bool done_ = false;
  int64_t bytes_read_ = 0;
  std::string err_kind_;
  int64_t err_offset_ = -1;
};

// A string option without embedded NUL bytes (C APIs would read only up to the first one).
std::string CleanString(Napi::Env env, Napi::Value v, const char* what) {
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos)
    throw Napi::TypeError::New(env, std::string("Expected a ") + what + " without NUL bytes but received one with a NUL at index " +
                                        std::to_string(s.find('\0')));
  return s;
}

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
    if (o.Has("filter") && o.Get("filter").IsString()) opts.filter = CleanString(env, o.Get("filter"), "BPF filter");
    if (o.Has("flows")) opts.flows = o.Get("flows").ToBoolean().Value();
    if (o.Has("packetColumns")) opts.packet_columns = o.Get("packetColumns").ToBoolean().Value();
    if (!opts.packet_columns && !opts.flows) throw Napi::TypeError::New(env, "Expected flows: true with packetColumns: false");
    if (o.Has("keepValidPrefix")) opts.keep_valid_prefix = o.Get("keepValidPrefix").ToBoolean().Value();
    opts.leave_final_flows = true;  // the flow columns read the flows open at the end from the table (no copy)
    if (o.Has("inactiveNs") && o.Get("inactiveNs").IsNumber()) opts.inactive_ns = static_cast<int64_t>(o.Get("inactiveNs").As<Napi::Number>().DoubleValue());
    if (o.Has("activeNs") && o.Get("activeNs").IsNumber()) opts.active_ns = static_cast<int64_t>(o.Get("activeNs").As<Napi::Number>().DoubleValue());
    flows_ = opts.flows;
    columns_ = opts.packet_columns;
    reader_ = std::make_unique<Reader>(CleanString(env, info[0], "path"), opts);
  }

  Reader* reader() { return reader_.get(); }
  bool flows() const { return flows_; }
  bool columns() const { return columns_; }
  void set_busy(bool b) { busy_ = b; }
  void ReleaseIfClosed() {
    if (closed_) reader_.reset();
  }
  // The live block of this reader whose memory starts at `data`, or null.
  std::shared_ptr<Block> FindBlock(const void* data) {
    std::shared_ptr<Block> found;
    size_t keep = 0;
    for (auto& w : blocks_) {
      std::shared_ptr<Block> b = w.lock();
      if (!b) continue;
      if (data && b->data == data) found = b;
      blocks_[keep++] = w;
    }
    blocks_.resize(keep);
    return found;
  }
  void AddBlock(const std::shared_ptr<Block>& b) { blocks_.push_back(b); }

 private:
  Napi::Value NextBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (busy_) throw Napi::Error::New(env, "nextBatch called while a batch is still being read");
    if (!reader_) throw Napi::Error::New(env, "the reader is closed");
    double cap = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 65536;
    if (!(cap >= 1 && cap <= (1 << 24))) throw Napi::RangeError::New(env, "batch capacity must be within 1..16777216");
    FillWorker* w;
    try {
      w = new FillWorker(env, this, info.This().As<Napi::Object>(), static_cast<uint32_t>(cap),
                         info.Length() > 1 ? info[1] : env.Undefined());
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(env, "out of memory allocating a batch of " + std::to_string(static_cast<uint32_t>(cap)) + " packets");
    }
    busy_ = true;  // only once a worker exists: a failed allocation must not leave the reader refusing every call
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
  std::vector<std::weak_ptr<Block>> blocks_;
  bool flows_ = false, columns_ = true, busy_ = false, closed_ = false;
};

FillWorker::FillWorker(Napi::Env env, NativeReader* owner, Napi::Object self, uint32_t capacity, Napi::Value recycle)
    : Napi::AsyncWorker(env, "netshare:read"), owner_(owner), self_(Napi::Persistent(self)), deferred_(Napi::Promise::Deferred::New(env)) {
  cols_.capacity = capacity;
  columns_ = owner->columns();
  if (!columns_) return;  // flows only: no packet columns at all
  size_t total = 0;
#define NETSHARE_OFFSET(name, type, width) \
  offsets_.push_back(total);               \
  total = Align8(total + (std::string(#name) == "flowId" && !owner->flows() ? 0 : size_t{width} * capacity));
  NETSHARE_PACKET_COLUMNS(NETSHARE_OFFSET)
#undef NETSHARE_OFFSET
  // A fresh buffer costs page faults on every batch; a returned one of this reader is reused (Fill overwrites its
  // rows). Only this reader's own blocks: their memory cannot go away while the worker writes (see Block).
  if (recycle.IsArrayBuffer()) {
    Napi::ArrayBuffer ab = recycle.As<Napi::ArrayBuffer>();
    std::shared_ptr<Block> b = owner->FindBlock(ab.Data());
    if (b && b->bytes >= total) {
      block_ = b;
      recycle_ = Napi::Persistent(ab);
    }
  }
  // The IPv6 clearing invariant (BatchColumns::ip6_zeroed) holds in a block last filled with the same layout.
  cols_.ip6_zeroed = !block_ || (block_->capacity == capacity && block_->flow_ids == owner->flows());
  if (!block_) {
    block_ = std::make_shared<Block>(total);
    owner->AddBlock(block_);
  }
  block_->capacity = cols_.ip6_zeroed ? capacity : 0;
  block_->flow_ids = owner->flows();
  uint8_t* base = block_->data;
  size_t k = 0;
#define NETSHARE_PTR(name, type, width) cols_.name = reinterpret_cast<type*>(base + offsets_[k++]);
  NETSHARE_PACKET_COLUMNS(NETSHARE_PTR)
#undef NETSHARE_PTR
  if (!owner->flows()) cols_.flowId = nullptr;
}

void FillWorker::Execute() {
  try {
    count_ = owner_->reader()->Fill(cols_, flows_, done_);
    bytes_read_ = owner_->reader()->bytes_read();
    if (owner_->flows()) BuildFlowColumns();
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

// Flow columns (on the worker thread) from the flows closed during the batch, then, after the last batch, the flows
// still open in the table (read in place, in id order, and cleared: no copy of every flow into flows_ first).
void FillWorker::BuildFlowColumns() {
  FlowTable* open = done_ ? owner_->reader()->final_flows() : nullptr;
  const FlowSlot* const open_flows = open ? open->OpenFlows() : nullptr;
  const size_t closed = flows_.size(), n = closed + (open ? open->open_flows() : 0);
  bool any6 = false;
  for (size_t i = 0; i < closed && !any6; i++) any6 = flows_[i].key.version == 6;
  if (open && open->has_ipv6()) any6 = true;
  FlowColumns& f = flow_cols_;
  size_t t = 0;
  auto col = [&](size_t width) {
    const size_t at = t;
    t = Align8(t + width * n);
    return at;
  };
  f.ts = col(8), f.td = col(8), f.pk = col(8), f.by = col(8), f.src = col(4), f.dst = col(4), f.id = col(4);
  f.sport = col(2), f.dport = col(2), f.proto = col(1), f.ver = col(1), f.fl = col(1);
  // IPv6 address columns (32 bytes a flow) only when some flow is IPv6; otherwise empty.
  f.src6 = col(any6 ? 16 : 0), f.dst6 = col(any6 ? 16 : 0);
  f.n = n;
  f.any6 = any6;
  f.block = std::make_shared<Block>(t);
  uint8_t* b = f.block->data;
  auto* src = reinterpret_cast<uint32_t*>(b + f.src);
  auto* dst = reinterpret_cast<uint32_t*>(b + f.dst);
  auto* id = reinterpret_cast<uint32_t*>(b + f.id);
  auto* sport = reinterpret_cast<uint16_t*>(b + f.sport);
  auto* dport = reinterpret_cast<uint16_t*>(b + f.dport);
  uint8_t* proto = b + f.proto;
  uint8_t* ver = b + f.ver;
  uint8_t* fl = b + f.fl;
  auto* ts = reinterpret_cast<double*>(b + f.ts);
  auto* td = reinterpret_cast<double*>(b + f.td);
  auto* pk = reinterpret_cast<double*>(b + f.pk);
  auto* by = reinterpret_cast<double*>(b + f.by);
  // the per-flow counters, the same fields in a closed FlowRecord and an open FlowSlot
  auto counters = [&](size_t i, const auto& x) {
    fl[i] = x.tcp_flags;
    id[i] = x.id;
    ts[i] = static_cast<double>(x.first_ns) / 1e3;
    td[i] = static_cast<double>(x.last_ns - x.first_ns) / 1e9;
    pk[i] = static_cast<double>(x.packets);
    by[i] = static_cast<double>(x.bytes);
  };
  for (size_t i = 0; i < closed; i++) {
    const FlowRecord& r = flows_[i];
    if (r.key.version == 4) {
      std::memcpy(&src[i], r.key.src, 4);
      std::memcpy(&dst[i], r.key.dst, 4);
    } else {
      std::memcpy(b + f.src6 + 16 * i, r.key.src, 16);
      std::memcpy(b + f.dst6 + 16 * i, r.key.dst, 16);
    }
    sport[i] = r.key.sport;
    dport[i] = r.key.dport;
    proto[i] = r.key.proto;
    ver[i] = r.key.version;
    counters(i, r);
  }
  // The flows still open, straight from the table's records, in id order (the key words as FlowSlot stores them; no
  // FlowRecord built).
  for (size_t i = closed; i < n; i++) {
    const FlowSlot& s = open_flows[i - closed];
    const uint8_t v = static_cast<uint8_t>(s.k1 >> 40);
    if (v == 4) {
      src[i] = static_cast<uint32_t>(s.k0);
      dst[i] = static_cast<uint32_t>(s.k0 >> 32);
    } else {
      const uint64_t* a = open->Ipv6Words(s);
      std::memcpy(b + f.src6 + 16 * i, a, 16);
      std::memcpy(b + f.dst6 + 16 * i, a + 2, 16);
    }
    sport[i] = static_cast<uint16_t>(s.k1);
    dport[i] = static_cast<uint16_t>(s.k1 >> 16);
    proto[i] = static_cast<uint8_t>(s.k1 >> 32);
    ver[i] = v;
    counters(i, s);
  }
  if (open) open->Clear();
  std::vector<FlowRecord>().swap(flows_);
}

// The flow columns of FlowColumns as typed arrays over one ArrayBuffer.
Napi::Object FlowsObject(Napi::Env env, const FlowColumns& f) {
  Napi::Object o = Napi::Object::New(env);
  const size_t n = f.n;
  Napi::ArrayBuffer ab = WrapBlock(env, f.block ? f.block : std::make_shared<Block>(0));
  auto arr = [&](napi_typedarray_type t, size_t off, size_t len) { return MakeArray(env, t, ab, off, len); };
  o.Set("length", static_cast<double>(n));
  o.Set("srcIp", arr(napi_uint32_array, f.src, n));
  o.Set("dstIp", arr(napi_uint32_array, f.dst, n));
  o.Set("srcIp6", arr(napi_uint8_array, f.src6, f.any6 ? 16 * n : 0));
  o.Set("dstIp6", arr(napi_uint8_array, f.dst6, f.any6 ? 16 * n : 0));
  o.Set("srcPort", arr(napi_uint16_array, f.sport, n));
  o.Set("dstPort", arr(napi_uint16_array, f.dport, n));
  o.Set("proto", arr(napi_uint8_array, f.proto, n));
  o.Set("ipVersion", arr(napi_uint8_array, f.ver, n));
  o.Set("tcpFlags", arr(napi_uint8_array, f.fl, n));
  o.Set("id", arr(napi_uint32_array, f.id, n));
  o.Set("ts", arr(napi_float64_array, f.ts, n));
  o.Set("td", arr(napi_float64_array, f.td, n));
  o.Set("pkt", arr(napi_float64_array, f.pk, n));
  o.Set("byt", arr(napi_float64_array, f.by, n));
  return o;
}

void FillWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  owner_->set_busy(false);
  try {
    Resolve();
  } catch (const Napi::Error& e) {  // a failure building the result rejects the promise instead of vanishing
    owner_->ReleaseIfClosed();
    deferred_.Reject(e.Value());
  } catch (const std::exception& e) {
    owner_->ReleaseIfClosed();
    Napi::Error err = Napi::Error::New(env, std::string("building the batch failed: ") + e.what());
    err.Set("kind", "internal");
    deferred_.Reject(err.Value());
  }
}

void FillWorker::Resolve() {
  Napi::Env env = Env();
  Napi::Object cols = Napi::Object::New(env);
  if (columns_) {
    // The caller's own buffer again when it is still the block (not detached meanwhile); a new one over the block
    // otherwise. A buffer the caller detached while the worker wrote is replaced by a copy (its memory stayed valid).
    Napi::ArrayBuffer ab;
    if (!recycle_.IsEmpty()) {
      Napi::ArrayBuffer old = recycle_.Value();
      if (old.Data() == block_->data && old.ByteLength() == block_->bytes) {
        ab = old;
      } else {
        auto copy = std::make_shared<Block>(block_->bytes);
        std::memcpy(copy->data, block_->data, block_->bytes);
        copy->capacity = block_->capacity;
        copy->flow_ids = block_->flow_ids;
        owner_->AddBlock(copy);
        block_ = copy;
      }
    }
    if (ab.IsEmpty()) ab = WrapBlock(env, block_);
    size_t k = 0;
#define NETSHARE_VIEW(name, type, width)                                                                          \
  {                                                                                                               \
    const size_t off = offsets_[k++];                                                                             \
    constexpr napi_typedarray_type t = ColumnArray<type>::kType;                                                  \
    if (cols_.name) cols.Set(#name, MakeArray(env, t, ab, off, size_t{width} * count_ / (t == napi_uint8_array ? 1 : width))); \
  }
    NETSHARE_PACKET_COLUMNS(NETSHARE_VIEW)
#undef NETSHARE_VIEW
  }
  Napi::Object res = Napi::Object::New(env);
  res.Set("count", count_);
  res.Set("done", done_);
  res.Set("columns", cols);
  if (owner_->flows()) res.Set("flows", FlowsObject(env, flow_cols_));
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
