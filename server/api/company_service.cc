#include "server/api/company_service.h"

#include <string>
#include <utility>
#include <vector>

#include "server/api/serve.h"
#include "server/api/validation.h"
#include "server/mapping/link_json.h"
#include "server/mapping/page_token.h"

namespace kommo::api {
namespace {

using internal::Kind;
using internal::Reply;
using internal::Serve;
using internal::TrimToMask;
using rest::CallOptions;

constexpr char kCompaniesScope[] = "companies";

// The Kommo page a search asks for: 1, or the one its page_token names.
absl::StatusOr<int64_t> PageOf(absl::string_view token, absl::string_view query,
                               int32_t page_size) {
  if (token.empty()) return 1;
  return mapping::DecodePageToken(token, kCompaniesScope, query, page_size);
}

// The change as asked, and as written (on its lead or contact side; validated before).
mapping::LinkChange AskedChange(v1::EntityType type, int64_t id, v1::EntityType to_type,
                                int64_t to_id, bool is_main, bool unlink) {
  mapping::LinkChange change;
  change.entity_type = type;
  change.entity_id = id;
  change.to_entity_type = to_type;
  change.to_entity_id = to_id;
  change.is_main = is_main;
  change.unlink = unlink;
  return change;
}

}  // namespace

grpc::ServerUnaryReactor* CompanyServiceImpl::CreateCompany(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  using Response = v1::CreateCompanyResponse;
  return Serve<v1::CreateCompanyRequest, Response>(
      context, request, response, "kommo.v1.CompanyService/CreateCompany", Kind::kWrite, options_,
      ValidateCreateCompany,
      [](rest::KommoClient& client, const v1::CreateCompanyRequest& req, CallOptions call,
         auto done) {
        client.CreateCompany(
            req, std::move(call),
            Reply<Response, v1::Company>(
                std::move(done), [mask = req.read_mask()](Response& out, v1::Company company) {
                  const int64_t id = company.id();
                  TrimToMask(mask, &company);
                  *out.mutable_company() = std::move(company);
                  return id;
                }));
      });
}

grpc::ServerUnaryReactor* CompanyServiceImpl::UpdateCompany(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  using Response = v1::UpdateCompanyResponse;
  return Serve<v1::UpdateCompanyRequest, Response>(
      context, request, response, "kommo.v1.CompanyService/UpdateCompany", Kind::kWrite, options_,
      ValidateUpdateCompany,
      [](rest::KommoClient& client, const v1::UpdateCompanyRequest& req, CallOptions call,
         auto done) {
        client.UpdateCompany(
            req, std::move(call),
            Reply<Response, v1::Company>(
                std::move(done), [mask = req.read_mask()](Response& out, v1::Company company) {
                  const int64_t id = company.id();
                  TrimToMask(mask, &company);
                  *out.mutable_company() = std::move(company);
                  return id;
                }));
      });
}

grpc::ServerUnaryReactor* CompanyServiceImpl::GetCompany(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  using Response = v1::GetCompanyResponse;
  return Serve<v1::GetCompanyRequest, Response>(
      context, request, response, "kommo.v1.CompanyService/GetCompany", Kind::kRead, options_,
      ValidateGetCompany,
      [](rest::KommoClient& client, const v1::GetCompanyRequest& req, CallOptions call, auto done) {
        client.GetCompany(
            req.company_id(), std::move(call),
            Reply<Response, v1::Company>(std::move(done), [](Response& out, v1::Company company) {
              *out.mutable_company() = std::move(company);
              return int64_t{0};
            }));
      });
}

grpc::ServerUnaryReactor* CompanyServiceImpl::SearchCompanies(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  return Serve<v1::SearchCompaniesRequest, v1::SearchCompaniesResponse>(
      context, request, response, "kommo.v1.CompanyService/SearchCompanies", Kind::kRead, options_,
      ValidateSearchCompanies,
      [](rest::KommoClient& client, const v1::SearchCompaniesRequest& req, CallOptions call,
         auto done) {
        absl::StatusOr<int64_t> page = PageOf(req.page_token(), req.query(), req.page_size());
        if (!page.ok()) return done(page.status(), 0);
        client.SearchCompanies(
            req.query(), *page, req.page_size() == 0 ? kDefaultPageSize : req.page_size(),
            std::move(call),
            [done = std::move(done), page = *page, query = req.query(),
             page_size = req.page_size()](absl::StatusOr<rest::CompanyPageResult> result) mutable {
              if (!result.ok()) return done(result.status(), 0);
              v1::SearchCompaniesResponse out;
              for (v1::Company& company : result->companies) {
                *out.add_companies() = std::move(company);
              }
              if (result->has_next) {
                out.set_next_page_token(
                    mapping::EncodePageToken(kCompaniesScope, page + 1, query, page_size));
              }
              done(std::move(out), 0);
            });
      });
}

grpc::ServerUnaryReactor* LinkServiceImpl::LinkEntities(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request,
                                                        grpc::ByteBuffer* response) {
  using Response = v1::LinkEntitiesResponse;
  return Serve<v1::LinkEntitiesRequest, Response>(
      context, request, response, "kommo.v1.LinkService/LinkEntities", Kind::kWrite, options_,
      ValidateLinkEntities,
      [](rest::KommoClient& client, const v1::LinkEntitiesRequest& req, CallOptions call,
         auto done) {
        const mapping::LinkChange asked =
            AskedChange(req.entity_type(), req.entity_id(), req.to_entity_type(),
                        req.to_entity_id(), req.is_main(), /*unlink=*/false);
        client.ChangeLink(
            *mapping::WrittenSide(asked), std::move(call),
            Reply<Response, v1::Link>(std::move(done), [asked](Response& out, v1::Link answered) {
              // Seen from the side the caller named; the main flag as Kommo answered it.
              v1::Link& link = *out.mutable_link();
              link.set_entity_type(asked.entity_type);
              link.set_entity_id(asked.entity_id);
              link.set_to_entity_type(asked.to_entity_type);
              link.set_to_entity_id(asked.to_entity_id);
              link.set_is_main(answered.is_main());
              return int64_t{0};
            }));
      });
}

grpc::ServerUnaryReactor* LinkServiceImpl::UnlinkEntities(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request,
                                                          grpc::ByteBuffer* response) {
  using Response = v1::UnlinkEntitiesResponse;
  return Serve<v1::UnlinkEntitiesRequest, Response>(
      context, request, response, "kommo.v1.LinkService/UnlinkEntities", Kind::kWrite, options_,
      ValidateUnlinkEntities,
      [](rest::KommoClient& client, const v1::UnlinkEntitiesRequest& req, CallOptions call,
         auto done) {
        const mapping::LinkChange asked =
            AskedChange(req.entity_type(), req.entity_id(), req.to_entity_type(),
                        req.to_entity_id(), /*is_main=*/false, /*unlink=*/true);
        client.ChangeLink(*mapping::WrittenSide(asked), std::move(call),
                          Reply<Response, v1::Link>(
                              std::move(done), [](Response&, v1::Link) { return int64_t{0}; }));
      });
}

grpc::ServerUnaryReactor* LinkServiceImpl::ListLinks(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  using Response = v1::ListLinksResponse;
  return Serve<v1::ListLinksRequest, Response>(
      context, request, response, "kommo.v1.LinkService/ListLinks", Kind::kRead, options_,
      ValidateListLinks,
      [](rest::KommoClient& client, const v1::ListLinksRequest& req, CallOptions call, auto done) {
        client.ListLinks(req.entity_type(), req.entity_id(), req.to_entity_type(), std::move(call),
                         Reply<Response, std::vector<v1::Link>>(
                             std::move(done), [](Response& out, std::vector<v1::Link> links) {
                               for (v1::Link& link : links) *out.add_links() = std::move(link);
                               return int64_t{0};
                             }));
      });
}

}  // namespace kommo::api
