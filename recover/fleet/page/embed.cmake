# Builds the dashboard page from recover/fleet/page/ and embeds it in a C
# source as two byte arrays, the page before and after its data (run at build
# time by recover/CMakeLists.txt: cmake -DSRC_DIR=... -DOUT=... -P embed.cmake).
#
# fleet.html is the page as it is edited and linted, with two references and
# one marker that this script resolves:
#   <link rel="stylesheet" href="fleet.css">  -> <style> + fleet.css + </style>
#   <script src="fleet.js"></script>          -> <script> + fleet.js + </script>
#   the line "<!-- @fleet-data@ ... -->"      -> cut: the data goes there
# so the page written by `loopbreaker fleet` stays one self-contained file (its
# Content-Security-Policy allows no external CSS or script).  Each must occur
# exactly once; anything else stops the build.
set(link "<link rel=\"stylesheet\" href=\"fleet.css\">")
set(script "<script src=\"fleet.js\"></script>")
set(marker "<!-- @fleet-data@")

file(READ "${SRC_DIR}/fleet.html" html)
file(READ "${SRC_DIR}/fleet.css" css)
file(READ "${SRC_DIR}/fleet.js" js)

function(once text what)
  string(FIND "${text}" "${what}" first)
  string(FIND "${text}" "${what}" last REVERSE)
  if(first EQUAL -1 OR NOT first EQUAL last)
    message(FATAL_ERROR "${SRC_DIR}/fleet.html: '${what}' must occur exactly once")
  endif()
endfunction()
once("${html}" "${link}")
once("${html}" "${script}")
once("${html}" "${marker}")
foreach(part css js)
  string(FIND "${${part}}" "</" close)
  if(NOT close EQUAL -1)
    # "</" would end the inline <style> or <script> element early
    message(FATAL_ERROR "${SRC_DIR}/fleet.${part}: no \"</\" allowed (write \"<\\/\")")
  endif()
endforeach()

string(REPLACE "${link}" "<style>\n${css}</style>" html "${html}")
string(REPLACE "${script}" "<script>\n${js}</script>" html "${html}")

# split at the marker line
string(FIND "${html}" "${marker}" at)
string(SUBSTRING "${html}" 0 ${at} head)
string(SUBSTRING "${html}" ${at} -1 rest)
string(FIND "${rest}" "-->\n" end)
if(end EQUAL -1)
  message(FATAL_ERROR "${SRC_DIR}/fleet.html: the ${marker} comment must end its line")
endif()
math(EXPR end "${end} + 4")
string(SUBSTRING "${rest}" ${end} -1 tail)

function(c_bytes var text out)
  string(HEX "${text}" hex)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REPEAT "0x..," 16 row) # CMake regexes have no {16}
  string(REGEX REPLACE "(${row})" "\\1\n\t" hex "${hex}")
  set(${out} "extern const unsigned char ${var}[];\nextern const size_t ${var}_len;\nconst unsigned char ${var}[] = {\n\t${hex}0x00\n};\n"
      PARENT_SCOPE)
endfunction()
c_bytes(lb_fleet_page_head "${head}" head_c)
c_bytes(lb_fleet_page_tail "${tail}" tail_c)

set(body "/* Generated from recover/fleet/page/ by recover/fleet/page/embed.cmake. Do not edit. */\n")
string(APPEND body "#include <stddef.h>\n\n${head_c}")
string(APPEND body "const size_t lb_fleet_page_head_len = sizeof(lb_fleet_page_head) - 1;\n\n${tail_c}")
string(APPEND body "const size_t lb_fleet_page_tail_len = sizeof(lb_fleet_page_tail) - 1;\n")
file(WRITE "${OUT}.tmp" "${body}")
file(RENAME "${OUT}.tmp" "${OUT}")
