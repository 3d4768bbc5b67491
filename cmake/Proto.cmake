# Generates C++ for proto/boxd/api/v1/api.proto at build time into the build
# tree (boxd/api/v1/api.{pb,grpc.pb}.{h,cc}) and compiles it as boxd_proto,
# without our warning flags.
set(BOXD_PROTO_ROOT ${CMAKE_CURRENT_SOURCE_DIR}/proto)
set(BOXD_PROTO_FILE ${BOXD_PROTO_ROOT}/boxd/api/v1/api.proto)
set(BOXD_PROTO_OUT ${CMAKE_CURRENT_BINARY_DIR}/gen)
set(BOXD_PROTO_SRCS
  ${BOXD_PROTO_OUT}/boxd/api/v1/api.pb.cc
  ${BOXD_PROTO_OUT}/boxd/api/v1/api.grpc.pb.cc)
set(BOXD_PROTO_HDRS
  ${BOXD_PROTO_OUT}/boxd/api/v1/api.pb.h
  ${BOXD_PROTO_OUT}/boxd/api/v1/api.grpc.pb.h)
file(MAKE_DIRECTORY ${BOXD_PROTO_OUT})
add_custom_command(
  OUTPUT ${BOXD_PROTO_SRCS} ${BOXD_PROTO_HDRS}
  COMMAND protobuf::protoc
    --proto_path=${BOXD_PROTO_ROOT}
    --cpp_out=${BOXD_PROTO_OUT}
    --grpc_out=${BOXD_PROTO_OUT}
    --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN}
    ${BOXD_PROTO_FILE}
  DEPENDS ${BOXD_PROTO_FILE}
  COMMENT "Generating C++ from api.proto")
# The generation alone, for targets in other directories (the fuzz build).
add_custom_target(boxd_proto_gen DEPENDS ${BOXD_PROTO_SRCS} ${BOXD_PROTO_HDRS})
add_library(boxd_proto STATIC ${BOXD_PROTO_SRCS})
target_include_directories(boxd_proto SYSTEM PUBLIC ${BOXD_PROTO_OUT})
target_link_libraries(boxd_proto PUBLIC gRPC::grpc++ protobuf::libprotobuf)
