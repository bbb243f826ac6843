// The tests compare file contents with the fixture manifests through the library's SHA-256.
#pragma once

#include <erofsfs/base/sha256.hpp>

namespace erofsfs::test {
using erofsfs::sha256;
}  // namespace erofsfs::test
