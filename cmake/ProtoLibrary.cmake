# add_proto_library(<target> ROOT <import root>... PROTOS <paths relative to a ROOT>...)
#
# Generates C++ and gRPC code with protoc into ${CMAKE_CURRENT_BINARY_DIR}/gen/<relative path> and
# builds it as a static library. Include the headers as "kommo/v1/lead.pb.h". The include directory
# is SYSTEM so that warnings stay about our own code.
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
endfunction()
