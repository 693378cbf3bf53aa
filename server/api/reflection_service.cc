#include "server/api/reflection_service.h"

#include <google/protobuf/descriptor.pb.h>

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/api/grpc_status.h"
#include "server/auth/grpc_credentials.h"

namespace kommo::api {

namespace reflection = grpc::reflection::v1alpha;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::FileDescriptorProto;
using google::protobuf::FileDescriptorSet;

absl::StatusOr<std::unique_ptr<ReflectionService>> ReflectionService::Create(
    std::string_view descriptor_set, std::vector<std::string> services) {
  FileDescriptorSet set;
  if (!set.ParseFromArray(descriptor_set.data(), static_cast<int>(descriptor_set.size()))) {
    return absl::InternalError("the embedded descriptor set does not parse");
  }
  std::unique_ptr<ReflectionService> service(new ReflectionService());
  // protoc writes imports before the files that import them (--include_imports).
  for (const FileDescriptorProto& file : set.file()) {
    if (service->files_.count(file.name()) > 0) continue;
    if (service->pool_.BuildFile(file) == nullptr) {
      return absl::InternalError(
          absl::StrCat("the embedded descriptor of ", file.name(), " does not build"));
    }
    service->files_[file.name()] = file.SerializeAsString();
  }
  for (const std::string& name : services) {
    if (service->pool_.FindServiceByName(name) == nullptr) {
      return absl::InternalError(absl::StrCat("the embedded descriptors lack service ", name));
    }
  }
  service->services_ = std::move(services);
  return service;
}

void ReflectionService::AddFile(const FileDescriptor* file, std::set<std::string>* sent,
                                reflection::FileDescriptorResponse* response) const {
  if (!sent->insert(file->name()).second) return;
  response->add_file_descriptor_proto(files_.at(file->name()));
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddFile(file->dependency(i), sent, response);
  }
}

reflection::ServerReflectionResponse ReflectionService::Answer(
    const reflection::ServerReflectionRequest& request, std::set<std::string>* sent) const {
  reflection::ServerReflectionResponse response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  const FileDescriptor* file = nullptr;
  std::string not_found;
  switch (request.message_request_case()) {
    case reflection::ServerReflectionRequest::kFileByFilename:
      file = pool_.FindFileByName(request.file_by_filename());
      not_found = absl::StrCat("no file ", request.file_by_filename());
      break;
    case reflection::ServerReflectionRequest::kFileContainingSymbol:
      file = pool_.FindFileContainingSymbol(request.file_containing_symbol());
      not_found = absl::StrCat("no symbol ", request.file_containing_symbol());
      break;
    case reflection::ServerReflectionRequest::kFileContainingExtension: {
      const reflection::ExtensionRequest& extension = request.file_containing_extension();
      const Descriptor* type = pool_.FindMessageTypeByName(extension.containing_type());
      const FieldDescriptor* field =
          type == nullptr ? nullptr
                          : pool_.FindExtensionByNumber(type, extension.extension_number());
      if (field != nullptr) file = field->file();
      not_found = absl::StrCat("no extension ", extension.extension_number(), " of ",
                               extension.containing_type());
      break;
    }
    case reflection::ServerReflectionRequest::kAllExtensionNumbersOfType: {
      const Descriptor* type = pool_.FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (type == nullptr) {
        not_found = absl::StrCat("no type ", request.all_extension_numbers_of_type());
        break;
      }
      std::vector<const FieldDescriptor*> extensions;
      pool_.FindAllExtensions(type, &extensions);
      reflection::ExtensionNumberResponse* numbers =
          response.mutable_all_extension_numbers_response();
      numbers->set_base_type_name(type->full_name());
      for (const FieldDescriptor* extension : extensions) {
        numbers->add_extension_number(extension->number());
      }
      return response;
    }
    case reflection::ServerReflectionRequest::kListServices:
      for (const std::string& name : services_) {
        response.mutable_list_services_response()->add_service()->set_name(name);
      }
      return response;
    default:
      response.mutable_error_response()->set_error_code(grpc::StatusCode::UNIMPLEMENTED);
      response.mutable_error_response()->set_error_message("unknown reflection request");
      return response;
  }
  if (file == nullptr) {
    response.mutable_error_response()->set_error_code(grpc::StatusCode::NOT_FOUND);
    response.mutable_error_response()->set_error_message(not_found);
    return response;
  }
  AddFile(file, sent, response.mutable_file_descriptor_response());
  return response;
}

std::vector<std::string> ReflectionService::Methods() const {
  std::vector<std::string> methods;
  for (const std::string& name : services_) {
    const google::protobuf::ServiceDescriptor* service = pool_.FindServiceByName(name);
    for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
      methods.push_back(absl::StrCat(name, "/", service->method(i)->name()));
    }
  }
  return methods;
}

grpc::Status ReflectionService::ServerReflectionInfo(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<reflection::ServerReflectionResponse,
                             reflection::ServerReflectionRequest>* stream) {
  if (authorizer_ != nullptr) {
    absl::StatusOr<auth::Caller> caller =
        authorizer_->Check(auth::CredentialsOf(*context),
                           "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
    if (!caller.ok()) return ToGrpcStatus(caller.status());
  }
  reflection::ServerReflectionRequest request;
  while (stream->Read(&request)) {
    // Each answer is whole (the file and all its imports), as gRPC's own reflection does.
    std::set<std::string> sent;
    if (!stream->Write(Answer(request, &sent))) break;
  }
  return grpc::Status::OK;
}

}  // namespace kommo::api
