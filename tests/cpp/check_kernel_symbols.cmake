# Fails if an object file of one build of the kernels defines a symbol that another build, or
# the rest of the library, could define too: every global or weak symbol must belong to that
# build's namespaces (multilogit::detail::<ISA>, multilogit_eigen_<ISA>). Otherwise the linker
# could keep, say, the AVX-512 copy of a shared function and run it on a CPU without AVX-512.
#
#   cmake -DNM=<nm> -DISA=<name> -DOBJECTS=<a.o;b.o> -P check_kernel_symbols.cmake
foreach(object IN LISTS OBJECTS)
  execute_process(COMMAND "${NM}" -C --defined-only "${object}"
                  OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${object}")
  endif()
  string(REPLACE "\n" ";" lines "${symbols}")
  set(strays "")
  foreach(line IN LISTS lines)
    # "<address> <type> <name>": lower-case types other than weak ones (v, w) are local.
    if(NOT line MATCHES "^[0-9a-fA-F]* ([A-Za-z]) (.*)$")
      continue()
    endif()
    set(type "${CMAKE_MATCH_1}")
    set(name "${CMAKE_MATCH_2}")
    if(type MATCHES "^[a-tx-z]$" AND NOT type STREQUAL "u")
      continue()
    endif()
    if(name MATCHES "multilogit::detail::${ISA}::|multilogit_eigen_${ISA}::" OR
       name STREQUAL "DW.ref.__gxx_personality_v0")
      continue()
    endif()
    list(APPEND strays "${type} ${name}")
  endforeach()
  if(strays)
    list(JOIN strays "\n  " listing)
    message(FATAL_ERROR "${object} defines symbols outside the ${ISA} namespaces:\n  ${listing}")
  endif()
endforeach()
message(STATUS "${ISA}: every shared symbol is in the ${ISA} namespaces")
