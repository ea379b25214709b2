/* Builds a large benchmark trace by tiling a capture: copy k = 0..tiles-1 shifts every timestamp by k * (span + 1 µs)
 * and XORs (k << 4) into octets 2-3 of both IPv4 addresses (distinct flows per copy), fixing the IPv4 header checksum and any
 * captured TCP/UDP checksum incrementally (RFC 1624). Raw IP (101/12/14/228/229) and Ethernet input; IPv6 packets are
 * copied with shifted times only. Usage: pcap_tile <in> <out.pcap> <tiles> ; prints one JSON line. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint16_t rd16(const u_char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void wr16(u_char *p, uint16_t v) { p[0] = (u_char)(v >> 8); p[1] = (u_char)v; }

/* RFC 1624 eqn 3: HC' = ~(~HC + ~m + m') for one changed 16-bit word. */
static uint16_t csum_update(uint16_t hc, uint16_t m, uint16_t m2) {
  uint32_t s = (uint16_t)~hc + (uint16_t)~m + m2;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

static void shift_ipv4(u_char *ip, uint32_t caplen, uint16_t mask) {
  if (caplen < 20 || (ip[0] >> 4) != 4) return;
  const uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;
  const int frag = (rd16(ip + 6) & 0x1fff) != 0;
  const int proto = ip[9];
  /* XOR the mask into octets 2-3 of both addresses (the 16-bit words at offsets 12 and 16). */
  const uint16_t s_old = rd16(ip + 12), d_old = rd16(ip + 16);
  const uint16_t s_new = s_old ^ mask, d_new = d_old ^ mask;
  wr16(ip + 12, s_new);
  wr16(ip + 16, d_new);
  uint16_t hc = rd16(ip + 10);
  hc = csum_update(hc, s_old, s_new);
  hc = csum_update(hc, d_old, d_new);
  wr16(ip + 10, hc);
  if (frag) return;
  uint32_t off = 0;
  if (proto == 6) off = ihl + 16;
  else if (proto == 17) off = ihl + 6;
  else return;
  if (caplen < off + 2) return;
  uint16_t l4 = rd16(ip + off);
  if (proto == 17 && l4 == 0) return; /* no UDP checksum */
  l4 = csum_update(l4, s_old, s_new);
  l4 = csum_update(l4, d_old, d_new);
  if (proto == 17 && l4 == 0) l4 = 0xffff;
  wr16(ip + off, l4);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <in> <out.pcap> <tiles>\n", argv[0]);
    return 2;
  }
  const long tiles = strtol(argv[3], NULL, 10);
  if (tiles < 1 || tiles > 4096) {
    fprintf(stderr, "tiles must be 1..4096\n");
    return 2;
  }
  char err[PCAP_ERRBUF_SIZE];
  pcap_t *in = pcap_open_offline(argv[1], err);
  if (!in) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  const int lt = pcap_datalink(in);
  /* Load the input once. */
  size_t n = 0, cap = 1024;
  struct pcap_pkthdr *hdrs = malloc(cap * sizeof *hdrs);
  u_char **datas = malloc(cap * sizeof *datas);
  struct pcap_pkthdr *h;
  const u_char *d;
  int rc;
  while ((rc = pcap_next_ex(in, &h, &d)) == 1) {
    if (n == cap) {
      cap *= 2;
      hdrs = realloc(hdrs, cap * sizeof *hdrs);
      datas = realloc(datas, cap * sizeof *datas);
    }
    hdrs[n] = *h;
    datas[n] = malloc(h->caplen ? h->caplen : 1);
    memcpy(datas[n], d, h->caplen);
    n++;
  }
  if (rc == PCAP_ERROR || n == 0) {
    fprintf(stderr, "reading %s: %s\n", argv[1], n == 0 ? "no packets" : pcap_geterr(in));
    return 1;
  }
  const int64_t first = (int64_t)hdrs[0].ts.tv_sec * 1000000 + hdrs[0].ts.tv_usec;
  const int64_t last = (int64_t)hdrs[n - 1].ts.tv_sec * 1000000 + hdrs[n - 1].ts.tv_usec;
  const int64_t period = last - first + 1;
  const int ip_off = lt == DLT_EN10MB ? 14 : 0;
  pcap_t *dead = pcap_open_dead(lt, pcap_snapshot(in) > 0 ? pcap_snapshot(in) : 262144);
  pcap_dumper_t *out = pcap_dump_open(dead, argv[2]);
  if (!out) {
    fprintf(stderr, "%s\n", pcap_geterr(dead));
    return 1;
  }
  u_char *buf = malloc(262144);
  uint64_t written = 0;
  for (long k = 0; k < tiles; k++) {
    for (size_t i = 0; i < n; i++) {
      struct pcap_pkthdr hh = hdrs[i];
      const int64_t t = (int64_t)hh.ts.tv_sec * 1000000 + hh.ts.tv_usec + k * period;
      hh.ts.tv_sec = t / 1000000;
      hh.ts.tv_usec = t % 1000000;
      memcpy(buf, datas[i], hh.caplen);
      if (k > 0 && hh.caplen > (uint32_t)ip_off &&
          (ip_off == 0 || rd16(datas[i] + 12) == 0x0800))
        shift_ipv4(buf + ip_off, hh.caplen - ip_off, (uint16_t)(k << 4));
      pcap_dump((u_char *)out, &hh, buf);
      written++;
    }
  }
  pcap_dump_close(out);
  pcap_close(dead);
  pcap_close(in);
  printf("{\"input\":%zu,\"tiles\":%ld,\"packets\":%llu,\"periodUs\":%lld,\"linktype\":%d}\n", n, tiles,
         (unsigned long long)written, (long long)period, lt);
  return 0;
}
