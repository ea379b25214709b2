// The byte stream under every capture format: a read-only FILE* over a file descriptor or a gzFile that counts the
// bytes it delivers, so a format knows exact stream offsets for its error messages.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace netshare {

struct StreamCookie;

struct InputStream {
  FILE* file = nullptr;           // closing it closes the descriptor or gzFile behind it
  int fd = -1;                    // plain files: the descriptor behind `file` (a format may pread it); -1 for gzip
  void* gz = nullptr;             // the gzFile behind `file` when the file is gzip'd, else null
  const StreamCookie* cookie = nullptr;
  int64_t size = 0;               // file size in bytes (compressed size for gzip); 0 for a pipe
  bool regular = true;            // a regular file (false: a pipe, stdin, a character device: no size, no pread)
  uint8_t head[24] = {0};         // the first bytes of the (decompressed) content, for sniffing the format
  size_t head_len = 0;            // how many of `head` the content has (< 24 for a short file)
};

// Opens `path` (gzip'd or not, told by its first two bytes) and reads its first bytes into `head` without consuming
// them from `file`. `-` is standard input; it, pipes and other non-regular files are read as a stream (no pread: the
// head bytes are handed out again by the stream); gzip'd content from a pipe is refused (pipe it through gunzip).
// Throws ReaderError("input") when the file cannot be opened; the caller owns `file` on return.
InputStream OpenInputStream(const std::string& path);

// Offset of the next byte `in.file` hands out (decompressed bytes for gzip); -1 when unknown (non-glibc stdio).
int64_t StreamPosition(const InputStream& in);

// Compressed bytes consumed so far for a gzip'd stream; 0 otherwise.
int64_t CompressedBytesRead(const InputStream& in);

// True when a gzip'd stream stopped on corrupt or truncated compressed data; `message` gets zlib's text.
bool GzipFailed(const InputStream& in, std::string& message);

// fread without stdio's per-call locking (one thread reads a stream at a time).
inline size_t ReadStream(void* buf, size_t n, FILE* f) {
#ifdef __GLIBC__
  return fread_unlocked(buf, 1, n, f);
#else
  return std::fread(buf, 1, n, f);
#endif
}

}  // namespace netshare
