#ifndef KOMMO_SERVER_API_COMPANY_SERVICE_H_
#define KOMMO_SERVER_API_COMPANY_SERVICE_H_

// kommo.v1.CompanyService and kommo.v1.LinkService: short adapters (decode, validate, call the
// Kommo client, convert) in the raw callback form of services.h.

#include "kommo/v1/company_service.grpc.pb.h"
#include "kommo/v1/link_service.grpc.pb.h"
#include "server/api/services.h"
#include "server/kommo/kommo_client.h"

namespace kommo::api {

using RawCompanyService = kommo::v1::CompanyService::WithRawCallbackMethod_CreateCompany<
    kommo::v1::CompanyService::WithRawCallbackMethod_UpdateCompany<
        kommo::v1::CompanyService::WithRawCallbackMethod_GetCompany<
            kommo::v1::CompanyService::WithRawCallbackMethod_SearchCompanies<
                kommo::v1::CompanyService::Service>>>>;

class CompanyServiceImpl final : public RawCompanyService {
 public:
  explicit CompanyServiceImpl(ServiceOptions options) : options_(std::move(options)) {}

  grpc::ServerUnaryReactor* CreateCompany(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UpdateCompany(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetCompany(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SearchCompanies(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;

 private:
  ServiceOptions options_;
};

using RawLinkService = kommo::v1::LinkService::WithRawCallbackMethod_LinkEntities<
    kommo::v1::LinkService::WithRawCallbackMethod_UnlinkEntities<
        kommo::v1::LinkService::WithRawCallbackMethod_ListLinks<kommo::v1::LinkService::Service>>>;

class LinkServiceImpl final : public RawLinkService {
 public:
  explicit LinkServiceImpl(ServiceOptions options) : options_(std::move(options)) {}

  grpc::ServerUnaryReactor* LinkEntities(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UnlinkEntities(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListLinks(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;

 private:
  ServiceOptions options_;
};

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_COMPANY_SERVICE_H_
