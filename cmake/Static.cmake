# BOXD_STATIC=ON (the release-static preset, driven by packaging/build-static)
# links boxd fully statically: -static, and every imported library target that
# points at a shared object is re-pointed at the .a next to it.
#
# How it works: the find_package() calls in Dependencies.cmake create imported
# targets (gRPC::grpc++, absl::*, protobuf::libprotobuf, OpenSSL::SSL,
# c-ares::cares, re2::re2, ZLIB::ZLIB, ...) whose IMPORTED_LOCATION is a .so
# and whose INTERFACE_LINK_LIBRARIES already describe the dependency graph.
# Rewriting only the locations keeps that graph, so CMake still orders the
# archives correctly, and no source or library list is hard-coded here.
# Debian 12 has no usable .a for libcurl, cpp-httplib and fmt: build-static
# builds them from Debian's source packages into BOXD_STATIC_DEPS, and they are
# swapped in explicitly below. A .so without a .a next to it is a configure
# error (naming the library), not a silently dynamic binary.
option(BOXD_STATIC "Link boxd fully statically (see packaging/build-static)" OFF)
if(NOT BOXD_STATIC)
  return()
endif()

set(BOXD_STATIC_DEPS "${CMAKE_SOURCE_DIR}/build/static" CACHE PATH
    "Static libcurl, cpp-httplib and fmt built by packaging/build-static")
foreach(lib curl/lib/libcurl.a httplib/libcpp-httplib.a fmt/libfmt.a)
  if(NOT EXISTS "${BOXD_STATIC_DEPS}/${lib}")
    message(FATAL_ERROR "BOXD_STATIC: ${BOXD_STATIC_DEPS}/${lib} is missing; run packaging/build-static")
  endif()
endforeach()

# --gc-sections drops the code and data no kept symbol reaches (COMDAT
# template instances and whole sections of the archives' objects): -0.6 MB
# stripped, measured on this build (tests/bench/FINDINGS.md, "Size").
add_link_options(-static -Wl,--gc-sections)
set(CMAKE_SKIP_RPATH ON)  # the swapped targets are still "shared" to CMake

# The C libraries' unwind tables (.eh_frame) are left out of the static
# binary: 0.50 MB stripped (tests/bench/FINDINGS.md, "Round six (issue 15,
# goal 6): size"). They serve only an exception that unwinds through a C
# function, and nothing of boxd throws through these: their callbacks into C++
# (gRPC's TLS verification and DNS resolution, boxd's libcurl write callback)
# do not throw, apart from std::bad_alloc, which ends the process
# (std::terminate) either way. What a crash's stack trace loses: the frames
# above a function of these libraries. http-parser keeps its tables (its
# callbacks are boxd's parser code), and so do glibc (thread cancellation
# unwinds through it) and every C++ library. Each archive is copied without
# .eh_frame into the build dir (objcopy, at build time, again whenever the
# system's archive changes).
set(BOXD_STATIC_NO_UNWIND OpenSSL::SSL OpenSSL::Crypto c-ares::cares ZLIB::ZLIB CURL::libcurl)
add_custom_target(boxd_static_no_unwind)
function(boxd_static_strip_unwind archive out_var)
  get_filename_component(name "${archive}" NAME)
  set(copy "${CMAKE_BINARY_DIR}/no-unwind/${name}")
  get_property(done GLOBAL PROPERTY BOXD_STATIC_NO_UNWIND_DONE)
  if(NOT copy IN_LIST done)
    set_property(GLOBAL APPEND PROPERTY BOXD_STATIC_NO_UNWIND_DONE "${copy}")
    add_custom_command(OUTPUT "${copy}"
      COMMAND ${CMAKE_COMMAND} -E make_directory "${CMAKE_BINARY_DIR}/no-unwind"
      COMMAND ${CMAKE_OBJCOPY} --remove-section=.eh_frame "${archive}" "${copy}"
      DEPENDS "${archive}" VERBATIM)
    string(MAKE_C_IDENTIFIER "${name}" id)
    add_custom_target(boxd_no_unwind_${id} DEPENDS "${copy}")
    add_dependencies(boxd_static_no_unwind boxd_no_unwind_${id})
  endif()
  set(${out_var} "${copy}" PARENT_SCOPE)
endfunction()

# Re-points one imported target; special cases first, then "libX.so*" -> "libX.a".
function(boxd_static_swap target)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY" OR type STREQUAL "EXECUTABLE")
    return()
  endif()
  # The compiled spdlog (libspdlog.so, no .a in Debian) is never linked: boxd
  # uses spdlog::spdlog_header_only, whose only library is fmt (swapped below).
  if(target STREQUAL "spdlog::spdlog")
    return()
  endif()
  get_target_property(configs ${target} IMPORTED_CONFIGURATIONS)
  set(props IMPORTED_LOCATION)
  if(configs)
    foreach(config ${configs})
      string(TOUPPER "${config}" config)
      list(APPEND props IMPORTED_LOCATION_${config})
    endforeach()
  endif()
  foreach(prop ${props})
    get_target_property(location ${target} ${prop})
    if(NOT location OR NOT location MATCHES "\\.so(\\.[0-9.]+)?$")
      continue()
    endif()
    if(location MATCHES "/libcurl\\.so")
      set(archive "${BOXD_STATIC_DEPS}/curl/lib/libcurl.a")
    elseif(location MATCHES "/libfmt\\.so")
      set(archive "${BOXD_STATIC_DEPS}/fmt/libfmt.a")
    else()
      string(REGEX REPLACE "\\.so(\\.[0-9.]+)?$" ".a" archive "${location}")
    endif()
    if(NOT EXISTS "${archive}")
      message(FATAL_ERROR "BOXD_STATIC: ${target} has no static archive (${archive} for ${location})")
    endif()
    if(target IN_LIST BOXD_STATIC_NO_UNWIND)
      boxd_static_strip_unwind("${archive}" archive)
    endif()
    set_target_properties(${target} PROPERTIES ${prop} "${archive}")
  endforeach()
endfunction()

get_directory_property(boxd_imported IMPORTED_TARGETS)
foreach(target ${boxd_imported})
  boxd_static_swap(${target})
endforeach()

# The static libcurl needs what libcurl.so pulled in by itself.
set_property(TARGET CURL::libcurl APPEND PROPERTY INTERFACE_LINK_LIBRARIES
             OpenSSL::SSL OpenSSL::Crypto ZLIB::ZLIB Threads::Threads)
set_property(TARGET OpenSSL::Crypto APPEND PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads dl)

# pkg-config's target names the .so by full path in its link libraries.
find_library(BOXD_BROTLIENC_A libbrotlienc.a REQUIRED)
find_library(BOXD_BROTLIDEC_A libbrotlidec.a REQUIRED)
find_library(BOXD_BROTLICOMMON_A libbrotlicommon.a REQUIRED)
set_target_properties(PkgConfig::HTTPLIB PROPERTIES INTERFACE_LINK_LIBRARIES
  "${BOXD_STATIC_DEPS}/httplib/libcpp-httplib.a;${BOXD_BROTLIENC_A};${BOXD_BROTLIDEC_A};${BOXD_BROTLICOMMON_A};OpenSSL::SSL;OpenSSL::Crypto;ZLIB::ZLIB;Threads::Threads")
