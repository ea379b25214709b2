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
  // Size hint for the flow index: one flow per 4 header-only records of ~60 bytes (a CAIDA backbone trace has ~1 in
  // 3); compressed input counts its compressed size. Only an index of 8-byte slots is sized up front.
  if (opts_.flows)
    flow_table_ = std::make_unique<FlowTable>(opts_.inactive_ns, opts_.active_ns, static_cast<uint64_t>(in_.size) / 240);
  // Compile the filter once up front for the pcap link type so a bad expression fails before any work.
  if (!opts_.filter.empty() && stats_.format.find("pcapng") == std::string::npos) {
    FilterFor(stats_.linktypes[0], 262144);
  }
}

int64_t Reader::bytes_read() const {
  if (!source_) return 0;
  if (in_.gz) return CompressedBytesRead(in_);
  if (stats_.format == "pcap") return source_->Offset();
  const int64_t p = StreamPosition(in_);
  return p < 0 ? 0 : p;
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
  }
  uint32_t flushed = 0;  // rows [0, flushed) went through the flow table
  // Local copies: the column stores (uint8_t* may alias anything) would otherwise reload every pointer per row.
  const BatchColumns cc = c;
  const bool ip6_zeroed = c.ip6_zeroed;
  FlowKey* const keys = keys_.data();
  uint32_t* const key_hashes = key_hashes_.data();
  uint8_t* const key_valid = key_valid_.data();
  ReaderStats& s = stats_;
  // Classic pcap (the common case) gets a direct, inlinable call instead of the virtual one.
  PcapSource* const pcap = dynamic_cast<PcapSource*>(source_.get());
  while (n < c.capacity) {
    bool more;
    try {
      try {
        more = pcap ? pcap->PcapSource::Next(r) : source_->Next(r);
      } catch (const ReaderError& e) {
        std::string zmsg;
        if (!GzipFailed(in_, zmsg)) throw;
        ReaderError ge(e.kind, "corrupt or truncated gzip stream (zlib: " + zmsg + "), decompressed byte offset " +
                                   std::to_string(e.offset) + ": " + e.what(), e.offset);
        throw ge;
      }
    } catch (const ReaderError& e) {
      if (!opts_.keep_valid_prefix || e.kind != "input" || !e.prefix_ok) throw;
      s.warnings.push_back(std::string("stopped early, kept the valid prefix of ") + std::to_string(s.records) +
                           " records: " + e.what());
      more = false;
    }
    if (!more) {
      done_ = done = true;
      break;
    }
    s.records++;
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
    s.packets++;
    if (!s.has_ts) {
      s.has_ts = true;
      s.first_sec = r.sec;
      s.first_nsec = r.nsec;
    }
    s.last_sec = r.sec;
    s.last_nsec = r.nsec;
    int64_t ts;
    if (__builtin_mul_overflow(r.sec, int64_t{1000000000}, &ts) || __builtin_add_overflow(ts, int64_t{r.nsec}, &ts)) {
      ts = r.sec < 0 ? INT64_MIN : INT64_MAX;
      s.clamped_ts++;
    }
    if (r.caplen < r.len) s.truncated++;
    if (r.file_caplen > r.caplen || (r.snaplen != 0 && r.caplen > r.snaplen)) s.over_snaplen++;

    cc.tsNs[n] = ts;
    cc.timeUs[n] = static_cast<double>(r.sec) * 1e6 + r.nsec * 1e-3;
    cc.status[n] = d.status;
    cc.ipVersion[n] = d.ip_version;
    cc.srcIp[n] = d.src4;
    cc.dstIp[n] = d.dst4;
    if (d.ip_version == 6) {
      std::memcpy(cc.srcIp6 + 16 * static_cast<size_t>(n), d.src6, 16);
      std::memcpy(cc.dstIp6 + 16 * static_cast<size_t>(n), d.dst6, 16);
    } else if (!ip6_zeroed) {  // a zero-filled buffer needs no stores into 32 empty bytes per IPv4 row
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
    if (d.ip_version != 0) {
      if (d.ip_version == 4) s.ipv4++;
      else s.ipv6++;
      switch (d.proto) {
        case 6: s.tcp++; break;
        case 17: s.udp++; break;
        case 1: case 58: s.icmp++; break;
        default: s.other_ip++;
      }
      s.fragments += d.is_fragment;
      if (flow_table_) {
        const uint64_t w4 = d.src_port | static_cast<uint64_t>(d.dst_port) << 16 | static_cast<uint64_t>(d.proto) << 32 |
                            static_cast<uint64_t>(d.ip_version) << 40;
        if (d.ip_version == 4) {
          key_hashes[n - flushed] = MakeKey(keys[n - flushed], d.src4, 0, d.dst4, 0, w4);
        } else {
          uint64_t a[4];
          std::memcpy(a, d.src6, 16);
          std::memcpy(a + 2, d.dst6, 16);
          key_hashes[n - flushed] = MakeKey(keys[n - flushed], a[0], a[1], a[2], a[3], w4);
        }
        key_valid[n - flushed] = 1;
        if (ts > max_ts_ns_) max_ts_ns_ = ts;
      }
    } else {
      if (d.status == kStatusNotIp) s.not_ip++;
      else s.undecodable++;
      if (flow_table_) key_valid[n - flushed] = 0;
    }
    n++;
    if (flow_table_ && n - flushed == kFlowChunk) {
      flow_table_->AddBatch(keys_.data(), key_hashes_.data(), key_valid_.data(), c.tsNs + flushed, c.pktLen + flushed,
                            c.tcpFlags + flushed, kFlowChunk, c.flowId + flushed, flows);
      flushed = n;
    }
  }
  if (done && s.over_snaplen > 0)
    s.warnings.push_back(std::to_string(s.over_snaplen) + " records have a captured length larger than the snapshot length in the file header (libpcap cuts them to the snapshot length)");
  if (flow_table_) {
    // The rows since the last chunk: flow lookups with prefetching (ids written straight into the flowId column).
    flow_table_->AddBatch(keys_.data(), key_hashes_.data(), key_valid_.data(), c.tsNs + flushed, c.pktLen + flushed,
                          c.tcpFlags + flushed, n - flushed, c.flowId + flushed, flows);
    if (done) {
      if (!opts_.leave_final_flows) flow_table_->Flush(flows);
    } else {
      flow_table_->MaybeSweep(max_ts_ns_, flows);
    }
  }
  return n;
}

}  // namespace netshare
