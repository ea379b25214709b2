// N-API glue for the reader (filled in by the ingest work; registers its functions on the exports object).
#include "napi_modules.h"

namespace netshare {
void RegisterReader(Napi::Env /*env*/, Napi::Object /*exports*/) {}
}  // namespace netshare
