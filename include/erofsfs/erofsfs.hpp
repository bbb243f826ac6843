// Umbrella header: the whole reader API (parsing, mapping, reading, directories, xattrs, walks).
// Backends (io/, fscache/, fanotify/) and optional codec adapters (codecs/) are separate includes.
#pragma once

#include "decompress.hpp"
#include "dir.hpp"
#include "dirent.hpp"
#include "error.hpp"
#include "extent.hpp"
#include "extents.hpp"
#include "file.hpp"
#include "image.hpp"
#include "inode.hpp"
#include "limits.hpp"
#include "map.hpp"
#include "metadata.hpp"
#include "open.hpp"
#include "path.hpp"
#include "read_context.hpp"
#include "source.hpp"
#include "superblock.hpp"
#include "version.hpp"
#include "walk.hpp"
#include "xattr.hpp"
