# add_proto_library(<target> ROOT <import root>... PROTOS <paths relative to a ROOT>...)
#
# Generates C++ and gRPC code with protoc into ${CMAKE_CURRENT_BINARY_DIR}/gen/<relative path> and
# builds it as a static library. Include the headers as "kommo/v1/lead.pb.h". The include directory
# is SYSTEM so that warnings stay about our own code.
#
# The target's properties KOMMO_PROTO_ROOTS and KOMMO_PROTOS keep the arguments, so that
# add_descriptor_set() can describe the same files.
function(add_proto_library target)
  cmake_parse_arguments(ARG "" "" "ROOT;PROTOS" ${ARGN})
  set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${gen_dir})
  set(include_args)
  foreach(root ${ARG_ROOT})
    list(APPEND include_args --proto_path=${root})
  endforeach()
  set(all_outs)
  foreach(rel ${ARG_PROTOS})
    unset(abs)
    foreach(root ${ARG_ROOT})
      if(NOT abs AND EXISTS ${root}/${rel})
        set(abs ${root}/${rel})
      endif()
    endforeach()
    if(NOT abs)
      message(FATAL_ERROR "${rel} not found under ${ARG_ROOT} (is the grpc-proto package installed?)")
    endif()
    string(REGEX REPLACE "\\.proto$" "" stem ${rel})
    set(outs ${gen_dir}/${stem}.pb.h ${gen_dir}/${stem}.pb.cc
             ${gen_dir}/${stem}.grpc.pb.h ${gen_dir}/${stem}.grpc.pb.cc
             ${gen_dir}/${stem}_mock.grpc.pb.h)
    add_custom_command(
      OUTPUT ${outs}
      COMMAND protobuf::protoc ${include_args}
              --cpp_out=${gen_dir}
              --grpc_out=generate_mock_code=true:${gen_dir}
              --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
              ${rel}
      DEPENDS ${abs} protobuf::protoc gRPC::grpc_cpp_plugin
      COMMENT "protoc ${rel}"
      VERBATIM)
    list(APPEND all_outs ${outs})
  endforeach()
  add_library(${target} STATIC ${all_outs})
  target_include_directories(${target} SYSTEM PUBLIC $<BUILD_INTERFACE:${gen_dir}>)
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf gRPC::grpc++)
  set_target_properties(${target} PROPERTIES KOMMO_PROTO_ROOTS "${ARG_ROOT}"
                                             KOMMO_PROTOS "${ARG_PROTOS}")
endfunction()

# add_descriptor_set(<target> SYMBOL <C++ name> PROTO_LIBRARIES <add_proto_library target>...
#                    [ROOT <import root>... PROTOS <paths>...])
#
# A static library defining `extern const std::string_view <SYMBOL>;`: a serialized
# google.protobuf.FileDescriptorSet of the libraries' files and PROTOS, made by protoc with
# --include_imports --include_source_info, so that the descriptors keep the .proto comments
# (the generated code's descriptors drop them).
function(add_descriptor_set target)
  cmake_parse_arguments(ARG "" "SYMBOL" "PROTO_LIBRARIES;ROOT;PROTOS" ${ARGN})
  set(roots ${ARG_ROOT})
  set(protos ${ARG_PROTOS})
  foreach(library ${ARG_PROTO_LIBRARIES})
    get_target_property(library_roots ${library} KOMMO_PROTO_ROOTS)
    get_target_property(library_protos ${library} KOMMO_PROTOS)
    list(APPEND roots ${library_roots})
    list(APPEND protos ${library_protos})
  endforeach()
  list(REMOVE_DUPLICATES roots)
  list(REMOVE_DUPLICATES protos)
  set(include_args)
  set(depends)
  foreach(root ${roots})
    list(APPEND include_args --proto_path=${root})
  endforeach()
  foreach(rel ${protos})
    foreach(root ${roots})
      if(EXISTS ${root}/${rel})
        list(APPEND depends ${root}/${rel})
        break()
      endif()
    endforeach()
  endforeach()
  set(set_file ${CMAKE_CURRENT_BINARY_DIR}/${target}.binpb)
  set(cc_file ${CMAKE_CURRENT_BINARY_DIR}/${target}.cc)
  add_custom_command(
    OUTPUT ${set_file}
    COMMAND protobuf::protoc ${include_args} --include_imports --include_source_info
            --descriptor_set_out=${set_file} ${protos}
    DEPENDS ${depends} protobuf::protoc
    COMMENT "protoc --descriptor_set_out ${target}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${cc_file}
    COMMAND ${CMAKE_COMMAND} -DINPUT=${set_file} -DOUTPUT=${cc_file} -DSYMBOL=${ARG_SYMBOL}
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedFile.cmake
    DEPENDS ${set_file} ${PROJECT_SOURCE_DIR}/cmake/EmbedFile.cmake
    COMMENT "embed ${target}"
    VERBATIM)
  add_library(${target} STATIC ${cc_file})
endfunction()
