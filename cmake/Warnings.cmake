# standard_warnings: an interface target our own code links privately.
# Generated protobuf code does not link it, so it never breaks -Werror.
add_library(standard_warnings INTERFACE)
target_compile_options(standard_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Wunused -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  -Wno-missing-field-initializers)
if(BOXD_WERROR)
  target_compile_options(standard_warnings INTERFACE -Werror)
endif()
