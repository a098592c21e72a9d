# Runs the multilogit program once and checks its exit status, messages and output file:
#
#   cmake -DCLI=<program> -DARGS=<arguments separated by |> [-DEXIT_CODE=<status, default 0>]
#         [-DSTDOUT=<regex>] [-DSTDERR=<regex>]
#         [-DOUTPUT=<file> (-DEXPECTED_OUTPUT=<file with the exact contents> | -DOUTPUT_REGEX=<regex>)]
#         -P run_cli.cmake
#
# Beyond the given patterns, a failure must be reported in one line on stderr ("multilogit:
# ..."), followed by the usage lines for a usage error (status 2).
string(REPLACE "|" ";" arguments "${ARGS}")
execute_process(COMMAND "${CLI}" ${arguments}
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT DEFINED EXIT_CODE)
  set(EXIT_CODE 0)
endif()

set(problems "")
if(NOT status STREQUAL EXIT_CODE)
  string(APPEND problems "exit status ${status}, expected ${EXIT_CODE}\n")
endif()
if(DEFINED STDOUT AND NOT out MATCHES "${STDOUT}")
  string(APPEND problems "stdout does not match: ${STDOUT}\n")
endif()
if(DEFINED STDERR AND NOT err MATCHES "${STDERR}")
  string(APPEND problems "stderr does not match: ${STDERR}\n")
endif()
if(EXIT_CODE EQUAL 1 AND NOT err MATCHES "^multilogit: [^\n]+\n$")
  string(APPEND problems "an error must be one line on stderr starting with 'multilogit: '\n")
endif()
if(EXIT_CODE EQUAL 2 AND NOT err MATCHES "^multilogit: [^\n]+\nusage: multilogit train")
  string(APPEND problems "a usage error must be one line on stderr followed by the usage\n")
endif()
if(DEFINED OUTPUT)
  file(READ "${OUTPUT}" written)
  if(DEFINED EXPECTED_OUTPUT)
    file(READ "${EXPECTED_OUTPUT}" expected)
    if(NOT written STREQUAL expected)
      string(APPEND problems "${OUTPUT} differs from ${EXPECTED_OUTPUT}:\n${written}\n")
    endif()
  endif()
  if(DEFINED OUTPUT_REGEX AND NOT written MATCHES "${OUTPUT_REGEX}")
    string(APPEND problems "${OUTPUT} does not match: ${OUTPUT_REGEX}\n${written}\n")
  endif()
endif()

if(problems)
  message(FATAL_ERROR "multilogit ${arguments}\n${problems}--- stdout:\n${out}--- stderr:\n${err}")
endif()
