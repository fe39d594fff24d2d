# Turns a text file into a C++ source defining `const char* const NAME`.
# Usage: cmake -DIN=file -DOUT=file.cpp -DNAME=ns::kName -P embed_text.cmake
file(READ ${IN} content)
string(REGEX REPLACE "::[^:]+$" "" ns "${NAME}")
string(REGEX REPLACE "^.*::" "" var "${NAME}")
file(WRITE ${OUT} "// Generated from ${IN}; do not edit.\nnamespace ${ns} {\nextern const char* const ${var};\nconst char* const ${var} = R\"discovery_embed(${content})discovery_embed\";\n}\n")
