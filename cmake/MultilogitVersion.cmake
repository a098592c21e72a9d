# Reads the project version from pyproject.toml, its single source of truth, into
# MULTILOGIT_VERSION. Included before project(), so it works for plain CMake builds,
# add_subdirectory() consumers and scikit-build-core alike.
set(_multilogit_pyproject "${CMAKE_CURRENT_LIST_DIR}/../pyproject.toml")
file(STRINGS "${_multilogit_pyproject}" _multilogit_version_line
     REGEX "^version[ \t]*=[ \t]*\"[0-9]+\\.[0-9]+\\.[0-9]+[^\"]*\"" LIMIT_COUNT 1)
if(NOT _multilogit_version_line MATCHES "\"([0-9]+\\.[0-9]+\\.[0-9]+)([^\"]*)\"")
  message(FATAL_ERROR "multilogit: no 'version = \"X.Y.Z\"' line found in ${_multilogit_pyproject}")
endif()
# CMake versions are purely numeric; a PEP 440 suffix (e.g. rc1, .dev0) is kept apart.
set(MULTILOGIT_VERSION "${CMAKE_MATCH_1}")
set(MULTILOGIT_VERSION_FULL "${CMAKE_MATCH_1}${CMAKE_MATCH_2}")

# scikit-build-core passes the version it put into the wheel metadata; they must agree.
if(DEFINED SKBUILD_PROJECT_VERSION AND NOT SKBUILD_PROJECT_VERSION VERSION_EQUAL MULTILOGIT_VERSION)
  message(FATAL_ERROR "multilogit: version mismatch: pyproject.toml says ${MULTILOGIT_VERSION}, "
                      "scikit-build-core passed ${SKBUILD_PROJECT_VERSION}")
endif()
unset(_multilogit_pyproject)
unset(_multilogit_version_line)
