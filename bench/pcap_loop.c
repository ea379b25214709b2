/* Bare libpcap read loop: the baseline of bench/ingest.ts. Usage: pcap_loop <file> ; prints one JSON line. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

struct counts {
  uint64_t packets, caplen, wirelen, touch;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data) {
  struct counts *c = (struct counts *)user;
  c->packets++;
  c->caplen += h->caplen;
  c->wirelen += h->len;
  if (h->caplen > 0) c->touch += data[0]; /* read one byte so the record is really looked at */
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <file.pcap|file.pcapng>\n", argv[0]);
    return 2;
  }
  char err[PCAP_ERRBUF_SIZE];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pcap_t *p = pcap_open_offline(argv[1], err);
  if (!p) {
    fprintf(stderr, "pcap_open_offline: %s\n", err);
    return 1;
  }
  struct counts c = {0, 0, 0, 0};
  if (pcap_loop(p, -1, on_packet, (u_char *)&c) == PCAP_ERROR) {
    fprintf(stderr, "pcap_loop: %s\n", pcap_geterr(p));
    return 1;
  }
  pcap_close(p);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  printf("{\"packets\":%llu,\"caplen\":%llu,\"wirelen\":%llu,\"touch\":%llu,\"seconds\":%.6f,\"cpuSeconds\":%.6f}\n",
         (unsigned long long)c.packets, (unsigned long long)c.caplen, (unsigned long long)c.wirelen,
         (unsigned long long)c.touch, s, cpu);
  return 0;
}
