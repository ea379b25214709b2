// Link-layer -> IPv4/IPv6 -> TCP/UDP/SCTP/ICMP header decoder for one captured record (no allocation, no libpcap).
#pragma once
#include <cstdint>
#include <cstring>

namespace netshare {

// Per-packet status written to the `status` column.
enum PacketStatus : uint8_t {
  kStatusOk = 0,           // IP packet, every captured byte present (caplen == len)
  kStatusTruncated = 1,    // IP packet, record snaplen-cut (caplen < len): decoded as far as the bytes allow
  kStatusNotIp = 2,        // link layer understood, payload is not IP (ARP, STP, 802.11 management, ...)
  kStatusUndecodable = 3,  // unknown link type, or an IP header that is cut short / inconsistent
};

// Decoded header fields of one record. Every field is written by DecodePacket (zeros when absent).
struct DecodedPacket {
  uint8_t status;
  uint8_t ip_version;    // 4, 6, or 0 when not IP
  uint8_t proto;         // IPv4 protocol / IPv6 upper-layer protocol after the extension-header walk
  uint8_t ihl;           // IPv4 header bytes; 40 for IPv6
  uint8_t tos;           // IPv4 TOS / IPv6 traffic class
  uint8_t flags;         // IPv4 3-bit flags (4 reserved, 2 DF, 1 MF); IPv6: 1 when the Fragment header has M set
  uint8_t ttl;           // TTL / hop limit
  uint8_t tcp_flags;
  uint8_t icmp_type;
  uint8_t icmp_code;
  uint8_t is_fragment;   // 1 for non-first fragments (offset > 0)
  uint16_t src_port, dst_port;
  uint16_t frag_offset;  // 8-byte units
  uint16_t ip_checksum;
  uint16_t tcp_window;
  uint32_t ip_id;        // IPv4 id; IPv6 Fragment header identification
  uint32_t pkt_len;      // IPv4 total length; IPv6 payload length + 40
  uint32_t ip_offset;    // byte offset of the outermost IP header in the record (valid when ip_version != 0)
  uint32_t src4, dst4;   // IPv4 addresses, host order
  uint8_t src6[16], dst6[16];  // IPv6 addresses, network order (zeros for IPv4)
};

// Decodes one record captured with LINKTYPE/DLT `linktype`. `caplen` bytes are readable at `data`; `wire_len`
// is the original length. Never reads past data+caplen. Fills `out` completely. An IP header that is cut short or
// inconsistent (IHL beyond the captured bytes, IPv4 total length < IHL or > the original length, IPv6 payload length
// beyond the original packet) is kStatusUndecodable, never kStatusOk; ports, flags and ICMP fields are read only from bytes within both
// the capture and the IP total length. Inline (decode_inl.h) so that the reader's loop inlines it.
inline void DecodePacket(int linktype, const uint8_t* data, uint32_t caplen, uint32_t wire_len, DecodedPacket& out);

// True when DecodePacket understands `linktype` (others give kStatusUndecodable).
bool LinktypeSupported(int linktype);

}  // namespace netshare

#include "decode_inl.h"
