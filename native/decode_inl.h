// The header decoder's implementation, included by decode.h so that the reader's per-packet loop inlines it (an
// out-of-line call into another translation unit cost a call plus a full 84-byte clear of DecodedPacket per packet).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "byte_order.h"

namespace netshare {
namespace decode_detail {

constexpr int kMaxTags = 16;  // VLAN tags / MPLS labels walked before giving up (loops on garbage stay bounded)

// Transport header at `l4` with `n` captured bytes.
inline void DecodeL4(const uint8_t* l4, int64_t n, DecodedPacket& o) {
  const uint8_t p = o.proto;
  if (p == 6 || p == 17 || p == 132) {
    if (n >= 4) {
      o.src_port = LoadBe16(l4);
      o.dst_port = LoadBe16(l4 + 2);
    }
    if (p == 6) {
      if (n >= 14) o.tcp_flags = l4[13];
      if (n >= 16) o.tcp_window = LoadBe16(l4 + 14);
    }
  } else if (p == 1 || p == 58) {
    if (n >= 1) o.icmp_type = l4[0];
    if (n >= 2) o.icmp_code = l4[1];
  }
}

// IP header at `p` with `n` captured bytes, of `wire` bytes in the original packet (>= n). `want` = 4 or 6 when the
// link layer claims a version, 0 to use the version nibble. Returns false (undecodable) when the header is cut short,
// does not match the claim or is inconsistent (IHL beyond the captured bytes, IPv4 total length below the header
// length or beyond the original packet, IPv6 payload length beyond the original packet). Transport fields come only
// from bytes within both the capture and the IP length.
inline bool DecodeIp(const uint8_t* p, int64_t n, int64_t wire, int want, DecodedPacket& o) {
  if (n < 1) return false;
  const int v = p[0] >> 4;
  if (want != 0 && v != want) return false;
  if (v == 4) {
    if (n < 20) return false;
    const int ihl = (p[0] & 15) * 4;
    if (ihl < 20 || ihl > n) return false;  // header length below the minimum, or options beyond the captured bytes
    const uint32_t total = LoadBe16(p + 2);
    if (total < static_cast<uint32_t>(ihl)) return false;  // a total length that cannot hold its own header
    // A total length beyond the record's original bytes claims bytes that never were on the wire (header-only
    // captures still record the full original length, so a consistent header-only record passes).
    if (static_cast<int64_t>(total) > wire) return false;
    o.ip_version = 4;
    o.ihl = static_cast<uint8_t>(ihl);
    o.tos = p[1];
    o.pkt_len = total;
    o.ip_id = LoadBe16(p + 4);
    const uint16_t off = LoadBe16(p + 6);
    o.flags = static_cast<uint8_t>(off >> 13);
    o.frag_offset = off & 0x1fff;
    o.ttl = p[8];
    o.proto = p[9];
    o.ip_checksum = LoadBe16(p + 10);
    o.src4 = LoadBe32(p + 12);
    o.dst4 = LoadBe32(p + 16);
    if (o.frag_offset != 0) {
      o.is_fragment = 1;
      return true;
    }
    // Transport fields only from bytes inside the IP packet: Ethernet padding after it is not a header.
    const int64_t in_packet = std::min<int64_t>(n, total);
    if (in_packet > ihl) DecodeL4(p + ihl, in_packet - ihl, o);
    return true;
  }
  if (v == 6) {
    if (n < 40) return false;
    const uint32_t payload = LoadBe16(p + 4);
    // A payload length beyond the record's original bytes is inconsistent (0 is a jumbogram's: its length sits in a
    // Hop-by-Hop option, so the captured bytes bound the walk instead).
    if (payload != 0 && static_cast<int64_t>(payload) + 40 > wire) return false;
    if (payload != 0 && n > int64_t{payload} + 40) n = int64_t{payload} + 40;
    o.ip_version = 6;
    o.ihl = 40;
    o.tos = static_cast<uint8_t>(((p[0] & 15) << 4) | (p[1] >> 4));
    o.pkt_len = payload + 40;
    o.ttl = p[7];
    std::memcpy(o.src6, p + 8, 16);
    std::memcpy(o.dst6, p + 24, 16);
    uint8_t nh = p[6];
    int64_t pos = 40;
    // Walk Hop-by-Hop, Routing, Fragment and Destination Options; stop at anything else (AH, ESP, 59, ...).
    for (int guard = 0; guard < 32; guard++) {
      if (nh == 0 || nh == 43 || nh == 60) {
        if (n - pos < 2) break;
        const int64_t len = (static_cast<int64_t>(p[pos + 1]) + 1) * 8;
        if (n - pos < len) break;
        nh = p[pos];
        pos += len;
      } else if (nh == 44) {
        if (n - pos < 8) break;
        const uint16_t fo = LoadBe16(p + pos + 2);
        o.frag_offset = fo >> 3;
        o.flags = fo & 1;
        o.ip_id = LoadBe32(p + pos + 4);
        nh = p[pos];
        pos += 8;
        if (o.frag_offset != 0) {
          o.is_fragment = 1;
          o.proto = nh;
          return true;
        }
      } else {
        break;
      }
    }
    o.proto = nh;
    if (n > pos) DecodeL4(p + pos, n - pos, o);
    return true;
  }
  return false;
}

// Result of a link-layer step: the IP header position and the claimed version, or a non-IP verdict.
enum LinkVerdict { kIp, kNotIp, kBad };

// Ethernet-type dispatch (after Ethernet, SLL, SNAP, VLAN tags): handles VLAN/QinQ, MPLS and PPPoE.
inline LinkVerdict FromEthertype(uint16_t type, const uint8_t* data, int64_t caplen, int64_t& pos, int& want) {
  for (int guard = 0; guard < kMaxTags; guard++) {
    switch (type) {
      case 0x0800: want = 4; return kIp;
      case 0x86DD: want = 6; return kIp;
      case 0x8100: case 0x88A8: case 0x9100: case 0x9200:
        if (caplen - pos < 4) return kBad;
        type = LoadBe16(data + pos + 2);
        pos += 4;
        continue;
      case 0x8847: case 0x8848: {
        for (int k = 0; k < kMaxTags; k++) {
          if (caplen - pos < 4) return kBad;
          const bool bottom = data[pos + 2] & 1;
          pos += 4;
          if (bottom) {
            if (caplen - pos < 1) return kBad;
            const int v = data[pos] >> 4;
            if (v == 4 || v == 6) { want = v; return kIp; }
            return kNotIp;  // Ethernet pseudowire, control word, ...
          }
        }
        return kBad;
      }
      case 0x8864: {  // PPPoE session: 6-byte header, then a PPP protocol number
        if (caplen - pos < 8) return kBad;
        const uint16_t ppp = LoadBe16(data + pos + 6);
        pos += 8;
        if (ppp == 0x0021) { want = 4; return kIp; }
        if (ppp == 0x0057) { want = 6; return kIp; }
        return kNotIp;
      }
      default:
        return kNotIp;
    }
  }
  return kBad;
}

// LLC/SNAP header at pos (802.3, 802.11, ATM): AA AA 03 + OUI + ethertype.
inline LinkVerdict FromLlc(const uint8_t* data, int64_t caplen, int64_t& pos, int& want) {
  if (caplen - pos < 3) return kBad;
  if (data[pos] != 0xAA || data[pos + 1] != 0xAA || data[pos + 2] != 0x03) return kNotIp;
  if (caplen - pos < 8) return kBad;
  const uint16_t type = LoadBe16(data + pos + 6);
  pos += 8;
  return FromEthertype(type, data, caplen, pos, want);
}

inline LinkVerdict FromEthernet(const uint8_t* data, int64_t caplen, int64_t& pos, int& want) {
  if (caplen - pos < 14) return kBad;
  const uint16_t type = LoadBe16(data + pos + 12);
  pos += 14;
  if (type <= 1500) return FromLlc(data, caplen, pos, want);  // 802.3 length field
  return FromEthertype(type, data, caplen, pos, want);
}

inline LinkVerdict FromPpp(const uint8_t* data, int64_t caplen, int64_t& pos, int& want) {
  if (caplen - pos >= 2 && data[pos] == 0xFF && data[pos + 1] == 0x03) pos += 2;  // HDLC address + control
  if (caplen - pos < 1) return kBad;
  uint16_t proto;
  if (data[pos] & 1) {  // protocol-field compression: one byte
    proto = data[pos];
    pos += 1;
  } else {
    if (caplen - pos < 2) return kBad;
    proto = LoadBe16(data + pos);
    pos += 2;
  }
  if (proto == 0x0021) { want = 4; return kIp; }
  if (proto == 0x0057) { want = 6; return kIp; }
  return kNotIp;
}

inline LinkVerdict FromNullAf(uint32_t af, int& want) {
  if (af == 2) { want = 4; return kIp; }
  if (af == 10 || af == 24 || af == 28 || af == 30) { want = 6; return kIp; }
  return kNotIp;
}

inline LinkVerdict From80211(const uint8_t* data, int64_t caplen, int64_t& pos, int& want) {
  if (caplen - pos < 24) return kBad;
  const uint8_t fc0 = data[pos], fc1 = data[pos + 1];
  const int type = (fc0 >> 2) & 3, subtype = fc0 >> 4;
  if (type != 2) return kNotIp;           // management / control
  if (subtype & 0x4) return kNotIp;       // null data: no body
  if (fc1 & 0x40) return kNotIp;          // protected: encrypted body
  int64_t hdr = 24;
  if ((fc1 & 3) == 3) hdr += 6;           // four addresses (WDS)
  if (subtype & 0x8) {                    // QoS data
    hdr += 2;
    if (fc1 & 0x80) hdr += 4;             // HT control
  }
  if (caplen - pos < hdr) return kBad;
  pos += hdr;
  return FromLlc(data, caplen, pos, want);
}

// `cell` is set for an ATM cell record: it carries 48 bytes of an AAL5 PDU, so its original length does not bound the
// IP packet's length.
inline LinkVerdict FromErf(const uint8_t* data, int64_t caplen, int64_t& pos, int& want, bool& cell) {
  if (caplen - pos < 16) return kBad;
  const uint8_t type = data[pos + 8];
  pos += 16;
  if (type & 0x80) {  // extension headers: 8 bytes each, high bit of the first byte says another follows
    for (int k = 0;; k++) {
      if (k >= kMaxTags || caplen - pos < 8) return kBad;
      const bool more = data[pos] & 0x80;
      pos += 8;
      if (!more) break;
    }
  }
  switch (type & 0x7f) {
    case 2: case 7: case 10: case 16:  // ETH, COLOR_ETH, DSM_COLOR_ETH, COLOR_HASH_ETH: 2 pad bytes + Ethernet
      if (caplen - pos < 2) return kBad;
      pos += 2;
      return FromEthernet(data, caplen, pos, want);
    case 3: case 4:  // ATM cell / AAL5: 4-byte ATM header, then LLC/SNAP (only the first cell of a PDU carries it)
      if (caplen - pos < 4) return kBad;
      pos += 4;
      cell = (type & 0x7f) == 3;
      return FromLlc(data, caplen, pos, want);
    case 1: case 5: case 6:  // HDLC/POS (PPP or Cisco HDLC)
      if (caplen - pos < 4) return kBad;
      if (LoadBe16(data + pos) == 0xFF03 || (data[pos] & 0xFD) == 0x0F) {
        const uint16_t proto = LoadBe16(data + pos + 2);
        pos += 4;
        if (proto == 0x0021 || proto == 0x0800) { want = 4; return kIp; }
        if (proto == 0x0057 || proto == 0x86DD) { want = 6; return kIp; }
      }
      return kNotIp;
    case 22: want = 4; return kIp;  // ERF_TYPE_IPV4
    case 23: want = 6; return kIp;  // ERF_TYPE_IPV6
    default:
      return kBad;
  }
}

}  // namespace decode_detail


__attribute__((always_inline)) inline void DecodePacket(int linktype, const uint8_t* data, uint32_t caplen32, uint32_t wire_len, DecodedPacket& o) {
  using namespace decode_detail;  // NOLINT(build/namespaces): the link-layer steps above
  std::memset(&o, 0, sizeof(o));
  const int64_t caplen = caplen32;
  int64_t pos = 0;
  int want = 0;
  bool cell = false;  // the record holds one ATM cell of the packet: its original length says nothing of the IP length
  LinkVerdict v = kBad;
  switch (linktype) {
    case 1: v = FromEthernet(data, caplen, pos, want); break;
    case 12: case 14: case 101: v = kIp; break;  // raw IP: version from the nibble
    case 228: want = 4; v = kIp; break;
    case 229: want = 6; v = kIp; break;
    case 113:  // Linux cooked v1: protocol at bytes 14-15
      if (caplen >= 16) {
        pos = 16;
        v = FromEthertype(LoadBe16(data + 14), data, caplen, pos, want);
      }
      break;
    case 276:  // Linux cooked v2: protocol at bytes 0-1, 20-byte header
      if (caplen >= 20) {
        pos = 20;
        v = FromEthertype(LoadBe16(data), data, caplen, pos, want);
      }
      break;
    case 0:  // NULL: address family in the capturing host's byte order
      if (caplen >= 4) {
        uint32_t af = LoadLe32(data);
        if (af > 0xFFFF) af = LoadBe32(data);
        pos = 4;
        v = FromNullAf(af, want);
      }
      break;
    case 108:  // LOOP: address family big-endian
      if (caplen >= 4) {
        pos = 4;
        v = FromNullAf(LoadBe32(data), want);
      }
      break;
    case 9: case 50: v = FromPpp(data, caplen, pos, want); break;
    case 51: v = FromEthertype(0x8864, data, caplen, pos, want); break;  // PPPoE without the Ethernet header
    case 104:  // Cisco HDLC: address, control, Ethernet type
      if (caplen >= 4) {
        pos = 4;
        v = FromEthertype(LoadBe16(data + 2), data, caplen, pos, want);
      }
      break;
    case 197: v = FromErf(data, caplen, pos, want, cell); break;
    case 105: v = From80211(data, caplen, pos, want); break;
    case 127:
      if (caplen >= 4 && data[0] == 0) {
        const uint16_t rlen = LoadLe16(data + 2);
        if (rlen >= 8 && rlen <= caplen) {
          pos = rlen;
          v = From80211(data, caplen, pos, want);
        }
      }
      break;
    default:
      o.status = kStatusUndecodable;
      return;
  }
  if (v == kNotIp) {
    o.status = kStatusNotIp;
    return;
  }
  const int64_t wire = cell ? INT64_MAX : std::max<int64_t>(wire_len, caplen) - pos;
  if (v == kBad || !DecodeIp(data + pos, caplen - pos, wire, want, o)) {
    std::memset(&o, 0, sizeof(o));
    o.status = kStatusUndecodable;
    return;
  }
  o.ip_offset = static_cast<uint32_t>(pos);
  o.status = caplen32 < wire_len ? kStatusTruncated : kStatusOk;
}

}  // namespace netshare
