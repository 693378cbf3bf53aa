#ifndef KOMMO_SERVER_API_REFLECTION_SERVICE_H_
#define KOMMO_SERVER_API_REFLECTION_SERVICE_H_

// grpc.reflection.v1alpha.ServerReflection over a FileDescriptorSet that keeps the .proto
// comments (source_code_info), so that grpcurl `describe` and `buf curl` show the API's
// documentation. gRPC's own reflection plugin serves the generated code's descriptors, which have
// no comments.

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "server/auth/callers.h"

namespace kommo::api {

// The serialized FileDescriptorSet of every .proto the server serves (its services, the
// google.rpc error details, grpc.health.v1, this reflection service), embedded at build time.
extern const std::string_view kDescriptorSet;

class ReflectionService final : public grpc::reflection::v1alpha::ServerReflection::Service {
 public:
  // `descriptor_set`: a serialized FileDescriptorSet holding every import of its files.
  // `services`: the full names list_services answers.
  static absl::StatusOr<std::unique_ptr<ReflectionService>> Create(
      std::string_view descriptor_set, std::vector<std::string> services);

  // "package.Service/Method" for every method of the listed services.
  std::vector<std::string> Methods() const;

  // When set, calls are checked against it (for a server whose reflection is not open).
  void set_authorizer(auth::Authorizer* authorizer) { authorizer_ = authorizer; }

  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<grpc::reflection::v1alpha::ServerReflectionResponse,
                               grpc::reflection::v1alpha::ServerReflectionRequest>* stream)
      override;

 private:
  ReflectionService() = default;

  auth::Authorizer* authorizer_ = nullptr;

  // Fills `response` with `file` and its imports not yet in `sent`.
  void AddFile(const google::protobuf::FileDescriptor* file, std::set<std::string>* sent,
               grpc::reflection::v1alpha::FileDescriptorResponse* response) const;
  grpc::reflection::v1alpha::ServerReflectionResponse Answer(
      const grpc::reflection::v1alpha::ServerReflectionRequest& request,
      std::set<std::string>* sent) const;

  google::protobuf::DescriptorPool pool_;
  // The serialized FileDescriptorProto of each file, by name, as protoc wrote it.
  std::map<std::string, std::string> files_;
  std::vector<std::string> services_;
};

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_REFLECTION_SERVICE_H_
