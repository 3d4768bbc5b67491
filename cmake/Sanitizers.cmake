# One option away: -DBOXD_SANITIZE=ON (the asan preset) instruments everything.
if(BOXD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
