# Makes Eigen3::Eigen available (Eigen >= 3.4, < 4).
#
# Under scikit-build-core, Eigen comes from PyPI's cmeel-eigen (a build requirement), whose
# CMake package lives in site-packages/cmeel.prefix. That prefix is not a standard search
# location, so it is appended to CMAKE_PREFIX_PATH first. A plain CMake build finds a system
# Eigen3 (e.g. Debian's libeigen3-dev) or whatever CMAKE_PREFIX_PATH / Eigen3_DIR point to.
# A parent project that already defines Eigen3::Eigen is left alone.

if(TARGET Eigen3::Eigen)
  return()
endif()

if(SKBUILD)  # SKBUILD is "2", which option() would not take as ON
  set(_multilogit_cmeel_default ON)
else()
  set(_multilogit_cmeel_default OFF)
endif()
option(MULTILOGIT_USE_CMEEL "Search the cmeel-eigen prefix of the Python environment for Eigen"
       ${_multilogit_cmeel_default})
unset(_multilogit_cmeel_default)

if(MULTILOGIT_USE_CMEEL)
  set(_multilogit_cmeel_prefixes "")
  if(NOT Python_EXECUTABLE)
    find_package(Python COMPONENTS Interpreter)
  endif()
  if(Python_EXECUTABLE)
    # `python -m cmeel cmake` prints the cmeel prefixes of every sys.path entry, followed by
    # the CMAKE_PREFIX_PATH environment variable, joined with os.pathsep.
    execute_process(
      COMMAND "${Python_EXECUTABLE}" -m cmeel cmake
      OUTPUT_VARIABLE _multilogit_cmeel_out
      ERROR_QUIET
      RESULT_VARIABLE _multilogit_cmeel_rc
      OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(_multilogit_cmeel_rc EQUAL 0 AND _multilogit_cmeel_out)
      if(NOT WIN32)
        string(REPLACE ":" ";" _multilogit_cmeel_out "${_multilogit_cmeel_out}")
      endif()
      list(APPEND _multilogit_cmeel_prefixes ${_multilogit_cmeel_out})
    endif()
  endif()
  # Fallback: scikit-build-core puts the build environment's site-packages on
  # CMAKE_PREFIX_PATH; cmeel installs its prefix right inside it.
  foreach(_multilogit_dir IN LISTS CMAKE_PREFIX_PATH)
    if(IS_DIRECTORY "${_multilogit_dir}/cmeel.prefix")
      list(APPEND _multilogit_cmeel_prefixes "${_multilogit_dir}/cmeel.prefix")
    endif()
  endforeach()
  set(_multilogit_cmeel_found OFF)
  foreach(_multilogit_dir IN LISTS _multilogit_cmeel_prefixes)
    if(_multilogit_dir MATCHES "cmeel\\.prefix/?$" AND IS_DIRECTORY "${_multilogit_dir}")
      list(APPEND CMAKE_PREFIX_PATH "${_multilogit_dir}")
      set(_multilogit_cmeel_found ON)
    endif()
  endforeach()
  if(NOT _multilogit_cmeel_found)
    message(WARNING "multilogit: no cmeel prefix (PyPI package cmeel-eigen) found for "
                    "${Python_EXECUTABLE}; looking for a system Eigen3 instead")
  endif()
  list(REMOVE_DUPLICATES CMAKE_PREFIX_PATH)
  # A reused build tree (scikit-build-core's build-dir) remembers Eigen3_DIR from its last
  # configure: possibly a deleted, isolated build environment, or a system Eigen. Search anew.
  if(_multilogit_cmeel_found OR (DEFINED CACHE{Eigen3_DIR} AND NOT EXISTS "${Eigen3_DIR}/Eigen3Config.cmake"))
    unset(Eigen3_DIR CACHE)
  endif()
  unset(_multilogit_cmeel_out)
  unset(_multilogit_cmeel_rc)
  unset(_multilogit_cmeel_prefixes)
  unset(_multilogit_cmeel_found)
  unset(_multilogit_dir)
endif()

find_package(Eigen3 3.4 CONFIG REQUIRED)
message(STATUS "multilogit: Eigen ${Eigen3_VERSION} from ${Eigen3_DIR}")
