# kommo_warnings(<target>): the warning set our own code builds clean with.
function(kommo_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Woverloaded-virtual)
  if(KOMMO_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
