// Input stream implementation: fopencookie over read(2) or gzread, counting the bytes handed to stdio.
#include "input_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "record_source.h"

namespace netshare {

// libpcap reads through stdio; counting what the cookie hands to stdio (minus what stdio still buffers) gives the
// exact stream position per record without an lseek syscall (ftell costs one per call).
struct StreamCookie {
  int fd = -1;
  gzFile gz = nullptr;
  uint64_t delivered = 0;
};

namespace {

ssize_t CookieRead(void* cookie, char* buf, size_t size) {
  auto* c = static_cast<StreamCookie*>(cookie);
  if (c->gz) {
    const int n = gzread(c->gz, buf, static_cast<unsigned>(size > (1u << 30) ? (1u << 30) : size));
    int zerr = Z_OK;
    if (n == 0) gzerror(c->gz, &zerr);  // a truncated stream reads as a short EOF and sets Z_BUF_ERROR
    if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
      errno = EIO;
      return -1;
    }
    c->delivered += static_cast<uint64_t>(n);
    return n;
  }
  for (;;) {
    const ssize_t n = ::read(c->fd, buf, size);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) c->delivered += static_cast<uint64_t>(n);
    return n;
  }
}

int CookieClose(void* cookie) {
  auto* c = static_cast<StreamCookie*>(cookie);
  const int rc = c->gz ? (gzclose(c->gz) == Z_OK ? 0 : -1) : ::close(c->fd);
  delete c;
  return rc;
}

}  // namespace

InputStream OpenInputStream(const std::string& path) {
  InputStream in;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw ReaderError("input", std::string("cannot open: ") + std::strerror(errno), -1);
  if (S_ISDIR(st.st_mode)) throw ReaderError("input", "is a directory, not a capture file", -1);
  in.size = st.st_size;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ReaderError("input", std::string("cannot open: ") + std::strerror(errno), -1);
  const ssize_t got = ::pread(fd, in.head, sizeof in.head, 0);
  in.head_len = got > 0 ? static_cast<size_t>(got) : 0;
  const bool gz = in.head_len >= 2 && in.head[0] == 0x1f && in.head[1] == 0x8b;
  auto* cookie = new StreamCookie;
  if (gz) {
    gzFile g = gzdopen(fd, "rb");
    if (!g) {
      ::close(fd);
      delete cookie;
      throw ReaderError("input", "cannot open gzip stream", 0);
    }
    gzbuffer(g, 1 << 18);
    in.head_len = static_cast<size_t>(std::max(0, gzread(g, in.head, sizeof in.head)));
    gzrewind(g);
    cookie->gz = g;
    in.gz = g;
  } else {
    cookie->fd = fd;
    in.fd = fd;
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  cookie_io_functions_t io{CookieRead, nullptr, nullptr, CookieClose};
  FILE* f = fopencookie(cookie, "rb", io);
  if (!f) {
    CookieClose(cookie);
    throw ReaderError("input", "cannot open a stream for the file", 0);
  }
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  in.file = f;
  in.cookie = cookie;
  return in;
}

int64_t StreamPosition(const InputStream& in) {
#ifdef __GLIBC__
  return static_cast<int64_t>(in.cookie->delivered) - static_cast<int64_t>(in.file->_IO_read_end - in.file->_IO_read_ptr);
#else
  (void)in;
  return -1;
#endif
}

int64_t CompressedBytesRead(const InputStream& in) { return in.gz ? static_cast<int64_t>(gzoffset(static_cast<gzFile>(in.gz))) : 0; }

bool GzipFailed(const InputStream& in, std::string& message) {
  if (!in.gz) return false;
  int zerr = Z_OK;
  const char* zmsg = gzerror(static_cast<gzFile>(in.gz), &zerr);
  if (zerr == Z_OK || zerr == Z_STREAM_END) return false;
  message = zmsg ? zmsg : "?";
  return true;
}

}  // namespace netshare
