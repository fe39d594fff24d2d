# DISCOVERY_SANITIZE: "address,undefined" or "thread" (the asan and tsan presets
# set it). Applied to every target of the project.
set(DISCOVERY_SANITIZE "" CACHE STRING "Sanitizers to build with (address,undefined | thread)")
if(DISCOVERY_SANITIZE)
  add_compile_options(-fsanitize=${DISCOVERY_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${DISCOVERY_SANITIZE})
endif()
