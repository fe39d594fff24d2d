# DISCOVERY_SANITIZE: "address,undefined" or "thread" (the asan and tsan presets
# set it). Applied to every target of the project.
set(DISCOVERY_SANITIZE "" CACHE STRING "Sanitizers to build with (address,undefined | thread)")
if(DISCOVERY_SANITIZE)
  add_compile_options(-fsanitize=${DISCOVERY_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${DISCOVERY_SANITIZE})
endif()
# GCC warns that TSan does not model std::atomic_thread_fence, which Asio's
# handler queues use; the warning (an error under -Werror) says nothing about
# this project's code, so it is silenced for TSan builds only.
if(DISCOVERY_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  add_compile_options(-Wno-tsan)
endif()
