// erofsfs version. CMake parses these three lines; keep their shape.
#pragma once

#define EROFSFS_VERSION_MAJOR 0
#define EROFSFS_VERSION_MINOR 1
#define EROFSFS_VERSION_PATCH 0
