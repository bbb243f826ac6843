// Umbrella header: the whole reader API, layer by layer (see docs/architecture.md).
// I/O sources beyond memory (io/fd_source.hpp, io/mmap_source.hpp), the backends (backends/)
// and the library-backed codec adapters (codecs/lzma.hpp, deflate.hpp, zstd.hpp) are separate
// includes, so nothing here needs a system library.
#pragma once

#include "version.hpp"

#include "base/error.hpp"
#include "base/limits.hpp"

#include "format/dir_block.hpp"
#include "format/inode.hpp"
#include "format/superblock.hpp"

#include "io/offset_source.hpp"
#include "io/source.hpp"

#include "core/image.hpp"

#include "map/extent.hpp"
#include "map/extent_iterator.hpp"
#include "map/map_extent.hpp"

#include "codecs/builtin.hpp"
#include "decode/decompressor.hpp"
#include "decode/read_context.hpp"

#include "api/check_mapping.hpp"
#include "api/directory.hpp"
#include "api/file_data.hpp"
#include "api/metadata_ranges.hpp"
#include "api/open.hpp"
#include "api/path.hpp"
#include "api/reader.hpp"
#include "api/walk.hpp"
#include "api/xattr.hpp"
