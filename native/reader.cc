// Reader implementation: format sniffing, BPF filtering and batch filling over the formats' record sources.
#include "reader.h"

#include <climits>
#include <cstdio>
#include <cstring>

#include "byte_order.h"
#include "pcap_format.h"
#include "pcapng_format.h"

namespace netshare {
namespace {

int DltForLinktype(int lt) { return lt == 101 ? DLT_RAW : lt; }

}  // namespace

Reader::Reader(std::string path, ReaderOptions opts) : path_(std::move(path)), opts_(std::move(opts)) {}

Reader::~Reader() {
  source_.reset();  // closes the FILE* (and the gzFile behind a cookie)
  for (auto& f : filters_) pcap_freecode(&f.prog);
}

void Reader::Open() {
  in_ = OpenInputStream(path_);
  const bool gz = in_.gz != nullptr;
  const size_t n = in_.head_len;
  if (n == 0) {
    std::fclose(in_.file);
    throw ReaderError("input", gz ? "empty gzip content (no capture file header)" : "empty file (no capture file header)", 0);
  }
  const uint32_t m = n >= 4 ? LoadBe32(in_.head) : 0;
  if (n < 4 || (!IsPcapMagic(m) && !IsPcapngMagic(m))) {
    std::fclose(in_.file);
    throw ReaderError("input", "unknown file format (first bytes " + HexBytes(in_.head, n < 4 ? n : 4) + "): expected pcap, pcapng or gzip'd pcap" +
                                   (gz ? " inside the gzip stream" : ""), 0);
  }
  if (IsPcapMagic(m)) {
    source_ = OpenPcap(in_, m, stats_);
    stats_.format = gz ? "gzip-pcap" : "pcap";
  } else {
    source_ = OpenPcapng(in_, stats_);
    stats_.format = gz ? "gzip-pcapng" : "pcapng";
  }
  // Size hint for the flow table: one flow per ~160 bytes of file (a tiled CAIDA backbone trace has one per 3
  // header-only records of ~60 bytes); compressed input counts its compressed size, a pipe none. The records are
  // mapped lazily and filled from the start, so a trace of few long flows touches only a page of them (and a small
  // index: it grows to the hinted size only when the flows outgrow its first 2 MiB).
  if (opts_.flows)
    flow_table_ = std::make_unique<FlowTable>(opts_.inactive_ns, opts_.active_ns, static_cast<uint64_t>(in_.size) / 160);
  // Compile the filter once up front for the pcap link type so a bad expression fails before any work.
  if (!opts_.filter.empty() && stats_.format.find("pcapng") == std::string::npos) {
    FilterFor(stats_.linktypes[0], 262144);
  }
}

int64_t Reader::bytes_read() const {
  if (!source_) return 0;
  if (in_.gz) return CompressedBytesRead(in_);
  return source_->Offset();  // both formats know the offset of their next record
}

const Reader::CompiledFilter& Reader::FilterFor(int linktype, uint32_t snaplen) {
  for (auto& f : filters_)
    if (f.linktype == linktype) return f;
  CompiledFilter cf;
  cf.linktype = linktype;
  cf.at_ip = false;
  std::string first_error;
  for (int dlt : {DltForLinktype(linktype), static_cast<int>(DLT_RAW)}) {
    pcap_t* dead = pcap_open_dead(dlt, static_cast<int>(snaplen ? snaplen : 262144));
    if (!dead) throw ReaderError("config", "cannot prepare the BPF compiler", -1);
    const int rc = pcap_compile(dead, &cf.prog, opts_.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN);
    if (rc != 0 && first_error.empty()) first_error = pcap_geterr(dead);
    pcap_close(dead);
    if (rc == 0) {
      cf.at_ip = dlt != DltForLinktype(linktype);
      if (cf.at_ip)
        stats_.warnings.push_back("libpcap cannot filter link type " + std::to_string(linktype) + " (" + first_error +
                                  "); the BPF filter runs on the IP packet of those records (link-layer terms do not apply)");
      filters_.push_back(cf);
      return filters_.back();
    }
    if (!LinktypeSupported(linktype) || dlt == DLT_RAW) break;
  }
  throw ReaderError("config", "invalid BPF filter \"" + opts_.filter + "\" for link type " + std::to_string(linktype) + ": " + first_error, -1);
}

uint32_t Reader::Fill(BatchColumns& c, std::vector<FlowRecord>& flows, bool& done) {
  done = false;
  if (!source_) Open();
  if (done_) {
    done = true;
    return 0;
  }
  return opts_.packet_columns ? FillRows<true>(c, flows, done) : FillRows<false>(c, flows, done);
}

namespace {

// The stats counters a batch updates per packet, kept in locals (registers) for the batch: as fields of ReaderStats
// every update was a read-modify-write to memory that the uint8_t column stores (which may alias anything) forced.
struct LocalCounters {
  explicit LocalCounters(ReaderStats& s)
      : s_(s), records(s.records), packets(s.packets), ipv4(s.ipv4), ipv6(s.ipv6), tcp(s.tcp), udp(s.udp), icmp(s.icmp),
        other_ip(s.other_ip), not_ip(s.not_ip), undecodable(s.undecodable), truncated(s.truncated), fragments(s.fragments),
        clamped_ts(s.clamped_ts), over_snaplen(s.over_snaplen) {}
  ~LocalCounters() { Store(); }  // also when a ReaderError leaves the batch
  void Store() {
    s_.records = records, s_.packets = packets, s_.ipv4 = ipv4, s_.ipv6 = ipv6, s_.tcp = tcp, s_.udp = udp, s_.icmp = icmp;
    s_.other_ip = other_ip, s_.not_ip = not_ip, s_.undecodable = undecodable, s_.truncated = truncated;
    s_.fragments = fragments, s_.clamped_ts = clamped_ts, s_.over_snaplen = over_snaplen;
  }
  ReaderStats& s_;
  uint64_t records, packets, ipv4, ipv6, tcp, udp, icmp, other_ip, not_ip, undecodable, truncated, fragments, clamped_ts,
      over_snaplen;
};

// ERF (LINKTYPE 197) records carry their own 64-bit little-endian timestamp (32.32 fixed point seconds), finer than
// the µs of a classic pcap record header: use it when the record has one.
inline void ErfTimestamp(RawRecord& r) {
  if (r.caplen < 8) return;
  uint64_t t;
  std::memcpy(&t, r.data, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  t = __builtin_bswap64(t);
#endif
  uint64_t sec = t >> 32;
  uint64_t ns = ((t & 0xffffffffull) * 1000000000ull + (1ull << 31)) >> 32;  // rounded to the nearest ns
  if (ns >= 1000000000ull) {
    ns -= 1000000000ull;
    sec++;
  }
  r.sec = static_cast<int64_t>(sec);
  r.nsec = static_cast<uint32_t>(ns);
}

}  // namespace

template <bool kColumns>
uint32_t Reader::FillRows(BatchColumns& c, std::vector<FlowRecord>& flows, bool& done) {
  uint32_t n = 0;
  RawRecord r;
  DecodedPacket d;
  const bool filtering = !opts_.filter.empty();
  // The flow pass runs every kFlowChunk rows, while the keys (40 B a row) and the rows' columns are still in L1.
  constexpr uint32_t kFlowChunk = 256;
  if (flow_table_ && keys_.size() < kFlowChunk) {
    keys_.resize(kFlowChunk);
    key_hashes_.resize(kFlowChunk);
    key_valid_.resize(kFlowChunk);
    key_ts_.resize(kFlowChunk);
    key_bytes_.resize(kFlowChunk);
    key_flags_.resize(kFlowChunk);
    key_ids_.resize(kFlowChunk);
  }
  uint32_t flushed = 0;  // rows [0, flushed) went through the flow table
  // Local copies: the column stores (uint8_t* may alias anything) would otherwise reload every pointer per row.
  const BatchColumns cc = c;
  const bool ip6_zeroed = c.ip6_zeroed;
  FlowTable* const table = flow_table_.get();
  FlowKey* const keys = keys_.data();
  uint32_t* const key_hashes = key_hashes_.data();
  uint8_t* const key_valid = key_valid_.data();
  int64_t* const key_ts = key_ts_.data();
  uint32_t* const key_bytes = key_bytes_.data();
  uint8_t* const key_flags = key_flags_.data();
  uint32_t* const key_ids = key_ids_.data();
  int64_t max_ts = max_ts_ns_;
  int64_t last_sec = 0;
  uint32_t last_nsec = 0;
  ReaderStats& s = stats_;
  LocalCounters k(s);
  auto flush_flows = [&](uint32_t upto) {
    table->AddBatch(keys, key_hashes, key_valid, key_ts, key_bytes, key_flags, upto - flushed,
                    kColumns && cc.flowId ? cc.flowId + flushed : key_ids, flows);
    flushed = upto;
  };
  // Classic pcap and pcapng get a direct call to their inlined fast path instead of a virtual call per record.
  PcapSource* const pcap = dynamic_cast<PcapSource*>(source_.get());
  PcapngSource* const ng = pcap ? nullptr : dynamic_cast<PcapngSource*>(source_.get());
  while (n < c.capacity) {
    bool more;
    try {
      try {
        more = pcap ? pcap->PcapSource::Next(r) : ng ? ng->PcapngSource::Next(r) : source_->Next(r);
      } catch (const ReaderError& e) {
        std::string zmsg;
        if (!GzipFailed(in_, zmsg)) throw;
        ReaderError ge(e.kind, "corrupt or truncated gzip stream (zlib: " + zmsg + "), decompressed byte offset " +
                                   std::to_string(e.offset) + ": " + e.what(), e.offset);
        throw ge;
      }
    } catch (const ReaderError& e) {
      if (!opts_.keep_valid_prefix || e.kind != "input" || !e.prefix_ok) throw;
      s.warnings.push_back(std::string("stopped early, kept the valid prefix of ") + std::to_string(k.records) +
                           " records: " + e.what());
      more = false;
    }
    if (!more) {
      done_ = done = true;
      break;
    }
    k.records++;
    if (__builtin_expect(r.linktype == 197, 0)) ErfTimestamp(r);
    DecodePacket(r.linktype, r.data, r.caplen, r.len, d);
    if (filtering) {
      const CompiledFilter& f = FilterFor(r.linktype, r.snaplen);
      pcap_pkthdr h;
      h.ts.tv_sec = r.sec;
      h.ts.tv_usec = r.nsec / 1000;
      bool pass;
      if (!f.at_ip) {
        h.caplen = r.caplen;
        h.len = r.len;
        pass = pcap_offline_filter(&f.prog, &h, r.data) != 0;
      } else {
        pass = d.ip_version != 0;
        if (pass) {
          h.caplen = r.caplen - d.ip_offset;
          h.len = r.len > d.ip_offset ? r.len - d.ip_offset : h.caplen;
          pass = pcap_offline_filter(&f.prog, &h, r.data + d.ip_offset) != 0;
        }
      }
      if (!pass) continue;
    }
    k.packets++;
    if (__builtin_expect(!s.has_ts, 0)) {
      s.has_ts = true;
      s.first_sec = r.sec;
      s.first_nsec = r.nsec;
    }
    last_sec = r.sec;
    last_nsec = r.nsec;
    int64_t ts;
    if (__builtin_mul_overflow(r.sec, int64_t{1000000000}, &ts) || __builtin_add_overflow(ts, int64_t{r.nsec}, &ts)) {
      ts = r.sec < 0 ? INT64_MIN : INT64_MAX;
      k.clamped_ts++;
    }
    k.truncated += r.caplen < r.len;
    k.over_snaplen += r.file_caplen > r.caplen || (r.snaplen != 0 && r.caplen > r.snaplen);

    if (kColumns) {
      const bool was6 = cc.ipVersion[n] == 6;  // read before the row is overwritten (see BatchColumns::ip6_zeroed)
      cc.tsNs[n] = ts;
      cc.timeUs[n] = static_cast<double>(r.sec) * 1e6 + r.nsec * 1e-3;
      cc.status[n] = d.status;
      cc.ipVersion[n] = d.ip_version;
      cc.srcIp[n] = d.src4;
      cc.dstIp[n] = d.dst4;
      if (d.ip_version == 6) {
        std::memcpy(cc.srcIp6 + 16 * static_cast<size_t>(n), d.src6, 16);
        std::memcpy(cc.dstIp6 + 16 * static_cast<size_t>(n), d.dst6, 16);
      } else if (!ip6_zeroed || was6) {  // IPv4 rows store nothing into 32 zero bytes unless the old row was IPv6
        std::memset(cc.srcIp6 + 16 * static_cast<size_t>(n), 0, 16);
        std::memset(cc.dstIp6 + 16 * static_cast<size_t>(n), 0, 16);
      }
      cc.srcPort[n] = d.src_port;
      cc.dstPort[n] = d.dst_port;
      cc.proto[n] = d.proto;
      cc.pktLen[n] = d.pkt_len;
      cc.caplen[n] = r.caplen;
      cc.wireLen[n] = r.len;
      cc.ihl[n] = d.ihl;
      cc.tos[n] = d.tos;
      cc.ipId[n] = d.ip_id;
      cc.flags[n] = d.flags;
      cc.fragOffset[n] = d.frag_offset;
      cc.ttl[n] = d.ttl;
      cc.ipChecksum[n] = d.ip_checksum;
      cc.tcpFlags[n] = d.tcp_flags;
      cc.tcpWindow[n] = d.tcp_window;
      cc.icmpType[n] = d.icmp_type;
      cc.icmpCode[n] = d.icmp_code;
      cc.iface[n] = r.iface;
      cc.linktype[n] = static_cast<uint16_t>(r.linktype);
    }
    const uint32_t j = n - flushed;
    if (d.ip_version != 0) {
      k.ipv4 += d.ip_version == 4;
      k.ipv6 += d.ip_version == 6;
      switch (d.proto) {
        case 6: k.tcp++; break;
        case 17: k.udp++; break;
        case 1: case 58: k.icmp++; break;
        default: k.other_ip++;
      }
      k.fragments += d.is_fragment;
      if (table) {
        const uint64_t w4 = d.src_port | static_cast<uint64_t>(d.dst_port) << 16 | static_cast<uint64_t>(d.proto) << 32 |
                            static_cast<uint64_t>(d.ip_version) << 40;
        if (d.ip_version == 4) {
          key_hashes[j] = MakeKey(keys[j], d.src4, 0, d.dst4, 0, w4);
        } else {
          uint64_t a[4];
          std::memcpy(a, d.src6, 16);
          std::memcpy(a + 2, d.dst6, 16);
          key_hashes[j] = MakeKey(keys[j], a[0], a[1], a[2], a[3], w4);
        }
        key_valid[j] = 1;
        key_ts[j] = ts;
        key_bytes[j] = d.pkt_len;
        key_flags[j] = d.tcp_flags;
        if (ts > max_ts) max_ts = ts;
      }
    } else {
      k.not_ip += d.status == kStatusNotIp;
      k.undecodable += d.status != kStatusNotIp;
      if (table) key_valid[j] = 0;
    }
    n++;
    if (table && n - flushed == kFlowChunk) flush_flows(n);
  }
  if (n > 0) {
    s.last_sec = last_sec;
    s.last_nsec = last_nsec;
  }
  max_ts_ns_ = max_ts;
  k.Store();
  if (done && s.over_snaplen > 0)
    s.warnings.push_back(std::to_string(s.over_snaplen) + " records have a captured length larger than the snapshot length in the file header (libpcap cuts them to the snapshot length)");
  if (table) {
    flush_flows(n);  // the rows since the last chunk (ids written straight into the flowId column)
    if (done) {
      if (!opts_.leave_final_flows) table->Flush(flows);
    } else {
      table->MaybeSweep(max_ts_ns_, flows);
    }
  }
  return n;
}

}  // namespace netshare
