# Configures a separate build of erofsfs (library only, as a packager would) and installs it
# into PREFIX. BUILD_DIR then doubles as the build tree whose export find_package() can use.
# Run with: cmake -DSOURCE_DIR= -DBUILD_DIR= -DPREFIX= -DGENERATOR= -DCXX= -P install.cmake
foreach(v SOURCE_DIR BUILD_DIR PREFIX GENERATOR CXX)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "install.cmake needs -D${v}=")
  endif()
endforeach()

file(REMOVE_RECURSE "${BUILD_DIR}" "${PREFIX}")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BUILD_DIR}" -G "${GENERATOR}"
    "-DCMAKE_CXX_COMPILER=${CXX}" "-DCMAKE_INSTALL_PREFIX=${PREFIX}"
    -DEROFSFS_BUILD_TESTS=OFF -DEROFSFS_BUILD_EXAMPLES=OFF -DEROFSFS_FUZZ_REPLAY=OFF
    -DEROFSFS_BUILD_BENCHMARKS=OFF -DEROFSFS_BUILD_FUZZERS=OFF -DEROFSFS_INSTALL=ON
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring erofsfs failed (${rc})")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "installing erofsfs failed (${rc})")
endif()

foreach(f include/erofsfs/erofsfs.hpp include/erofsfs/io/mmap_source.hpp
          share/cmake/erofsfs/erofsfsConfig.cmake share/cmake/erofsfs/erofsfsConfigVersion.cmake
          share/cmake/erofsfs/erofsfsTargets.cmake)
  if(NOT EXISTS "${PREFIX}/${f}")
    message(FATAL_ERROR "the install lacks ${f}")
  endif()
endforeach()
foreach(f erofsfsConfig.cmake erofsfsTargets.cmake)
  if(NOT EXISTS "${BUILD_DIR}/${f}")
    message(FATAL_ERROR "the build tree lacks ${f}")
  endif()
endforeach()
