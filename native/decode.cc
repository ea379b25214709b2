// Header decoder (the per-packet code is inline in decode_inl.h): link types (Ethernet/VLAN/MPLS/PPPoE, raw IP, SLL/SLL2, NULL/LOOP, PPP, ERF, 802.11/radiotap)
// down to IPv4/IPv6 (extension headers, fragments) and TCP/UDP/SCTP ports, TCP flags, ICMP type/code.
#include "decode.h"

#include "byte_order.h"

namespace netshare {
bool LinktypeSupported(int lt) {
  switch (lt) {
    case 0: case 1: case 9: case 12: case 14: case 50: case 51: case 101: case 104: case 105: case 108: case 113: case 127:
    case 197: case 228: case 229: case 276:
      return true;
    default:
      return false;
  }
}

}  // namespace netshare
