// Issue 11: reflection serves the descriptors with their .proto comments, and still resolves the
// google.rpc detail types and grpc.health.v1.

#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/api/reflection_service.h"

namespace kommo::api {
namespace {

namespace reflection = grpc::reflection::v1alpha;
using google::protobuf::FileDescriptorProto;
using ::testing::Contains;
using ::testing::HasSubstr;

class ReflectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ReflectionService>> created = ReflectionService::Create(
        kDescriptorSet, {"kommo.v1.LeadService", "kommo.v1.ContactService", "grpc.health.v1.Health",
                         "grpc.reflection.v1alpha.ServerReflection"});
    ASSERT_TRUE(created.ok()) << created.status();
    service_ = std::move(*created);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = reflection::ServerReflection::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // One request on a fresh stream.
  reflection::ServerReflectionResponse Ask(const reflection::ServerReflectionRequest& request) {
    grpc::ClientContext context;
    auto stream = stub_->ServerReflectionInfo(&context);
    EXPECT_TRUE(stream->Write(request));
    stream->WritesDone();
    reflection::ServerReflectionResponse response;
    EXPECT_TRUE(stream->Read(&response));
    EXPECT_TRUE(stream->Finish().ok());
    return response;
  }

  // The files of a file_descriptor_response, parsed.
  std::vector<FileDescriptorProto> Files(const reflection::ServerReflectionResponse& response) {
    std::vector<FileDescriptorProto> files;
    for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
      files.emplace_back();
      EXPECT_TRUE(files.back().ParseFromString(bytes));
    }
    return files;
  }

  std::unique_ptr<ReflectionService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<reflection::ServerReflection::Stub> stub_;
};

TEST_F(ReflectionTest, FileOfAServiceCarriesItsComments) {
  reflection::ServerReflectionRequest request;
  request.set_file_containing_symbol("kommo.v1.LeadService");
  const std::vector<FileDescriptorProto> files = Files(Ask(request));
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files[0].name(), "kommo/v1/lead_service.proto");
  ASSERT_TRUE(files[0].has_source_code_info());
  std::string comments;
  for (const auto& location : files[0].source_code_info().location()) {
    comments += location.leading_comments();
  }
  EXPECT_THAT(comments, HasSubstr("No match is an empty list, not an error."));
  EXPECT_THAT(comments, HasSubstr("The lead's name: 1 to 255 characters."));
  // Its imports come along, so that a client can build the file.
  std::vector<std::string> names;
  for (const FileDescriptorProto& file : files) names.push_back(file.name());
  EXPECT_THAT(names, Contains("kommo/v1/lead.proto"));
}

TEST_F(ReflectionTest, ErrorDetailTypesAndHealthResolve) {
  for (const char* symbol :
       {"google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.RetryInfo",
        "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
        "kommo.v1.ContactService.CreateContact"}) {
    reflection::ServerReflectionRequest request;
    request.set_file_containing_symbol(symbol);
    const reflection::ServerReflectionResponse response = Ask(request);
    EXPECT_FALSE(response.has_error_response()) << symbol;
    EXPECT_FALSE(Files(response).empty()) << symbol;
  }
  reflection::ServerReflectionRequest by_name;
  by_name.set_file_by_filename("google/rpc/error_details.proto");
  EXPECT_EQ(Files(Ask(by_name)).at(0).name(), "google/rpc/error_details.proto");
}

TEST_F(ReflectionTest, ListsTheServicesAndAnswersUnknownSymbolsWithNotFound) {
  reflection::ServerReflectionRequest list;
  list.set_list_services("*");
  std::vector<std::string> names;
  const reflection::ServerReflectionResponse listed = Ask(list);
  for (const auto& service : listed.list_services_response().service()) {
    names.push_back(service.name());
  }
  EXPECT_THAT(names, ::testing::ElementsAre("kommo.v1.LeadService", "kommo.v1.ContactService",
                                            "grpc.health.v1.Health",
                                            "grpc.reflection.v1alpha.ServerReflection"));
  reflection::ServerReflectionRequest unknown;
  unknown.set_file_containing_symbol("kommo.v1.NoSuchThing");
  const reflection::ServerReflectionResponse response = Ask(unknown);
  EXPECT_EQ(response.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(ReflectionServiceTest, RefusesAServiceMissingFromTheDescriptors) {
  EXPECT_FALSE(ReflectionService::Create(kDescriptorSet, {"kommo.v1.NoSuchService"}).ok());
  EXPECT_FALSE(ReflectionService::Create("not a descriptor set", {}).ok());
}

}  // namespace
}  // namespace kommo::api
