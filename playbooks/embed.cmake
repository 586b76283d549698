# Embeds every playbooks/*.json into a C source as byte arrays (run at build
# time by recover/CMakeLists.txt: cmake -DSRC_DIR=... -DOUT=... -P embed.cmake).
# The built-in playbooks are parsed from exactly these bytes at run time, so
# the shipped files are the one source of truth.
file(GLOB files "${SRC_DIR}/*.json")
list(SORT files)
set(body "/* Generated from the playbooks/ JSON files by playbooks/embed.cmake. Do not edit. */\n")
string(APPEND body "#include <stddef.h>\n\nstruct lb_pb_text {\n\tconst char *name;\n")
string(APPEND body "\tconst unsigned char *text;\n\tsize_t len;\n};\n\n")
set(table "")
foreach(f ${files})
  get_filename_component(name "${f}" NAME_WLE)
  string(MAKE_C_IDENTIFIER "${name}" id)
  file(READ "${f}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "((0x..,){16})" "\\1\n\t" hex "${hex}")
  string(APPEND body "static const unsigned char pb_${id}[] = {\n\t${hex}0x00\n};\n\n")
  string(APPEND table "\t{ \"${name}\", pb_${id}, sizeof(pb_${id}) - 1 },\n")
endforeach()
string(APPEND body "extern const struct lb_pb_text lb_pb_texts[];\n")
string(APPEND body "const struct lb_pb_text lb_pb_texts[] = {\n${table}\t{ NULL, NULL, 0 },\n};\n")
file(WRITE "${OUT}.tmp" "${body}")
file(RENAME "${OUT}.tmp" "${OUT}")
