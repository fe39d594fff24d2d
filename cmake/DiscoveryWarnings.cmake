# discovery_set_warnings(target): the project's warning set, as errors when
# DISCOVERY_WARNINGS_AS_ERRORS is on (CI turns it on).
function(discovery_set_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
      -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
      -Wno-deprecated-declarations>
    $<$<BOOL:${DISCOVERY_WARNINGS_AS_ERRORS}>:-Werror>)
endfunction()
