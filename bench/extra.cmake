# Peer JSON libraries for bench_json (benchmark comparison only; koban itself
# does not link them). Each is optional: a missing one is reported by the
# benchmark as "not built".
if(TARGET bench_json)
  pkg_check_modules(BENCH_JANSSON IMPORTED_TARGET jansson)
  pkg_check_modules(BENCH_JSONC IMPORTED_TARGET json-c)
  pkg_check_modules(BENCH_SIMDJSON IMPORTED_TARGET simdjson)
  if(BENCH_JANSSON_FOUND)
    target_link_libraries(bench_json PRIVATE PkgConfig::BENCH_JANSSON)
    target_compile_definitions(bench_json PRIVATE KB_BENCH_JANSSON)
  endif()
  # json-c and simdjson are driven from the C++ shim (json-c's headers
  # clash with jansson's in one translation unit).
  if(BENCH_JSONC_FOUND)
    target_link_libraries(bench_json PRIVATE PkgConfig::BENCH_JSONC)
    target_compile_definitions(bench_json PRIVATE KB_BENCH_JSONC)
  endif()
  if(BENCH_SIMDJSON_FOUND)
    target_link_libraries(bench_json PRIVATE PkgConfig::BENCH_SIMDJSON)
    target_compile_definitions(bench_json PRIVATE KB_BENCH_SIMDJSON)
  endif()
  if(BENCH_JSONC_FOUND OR BENCH_SIMDJSON_FOUND)
    target_sources(bench_json PRIVATE ${CMAKE_CURRENT_LIST_DIR}/json-peers.cpp)
    # -Wstrict-prototypes is C-only: g++ warns about it and -Werror is on, so
    # limit it to this target's C sources.
    get_target_property(_bench_json_opts bench_json COMPILE_OPTIONS)
    list(TRANSFORM _bench_json_opts REPLACE "^-Wstrict-prototypes$"
         "$<$<COMPILE_LANGUAGE:C>:-Wstrict-prototypes>")
    set_target_properties(bench_json PROPERTIES COMPILE_OPTIONS "${_bench_json_opts}")
  endif()
endif()
