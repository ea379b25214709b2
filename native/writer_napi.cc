// N-API glue for the writer (filled in by the ingest work; registers its functions on the exports object).
#include "napi_modules.h"

namespace netshare {
void RegisterWriter(Napi::Env /*env*/, Napi::Object /*exports*/) {}
}  // namespace netshare
