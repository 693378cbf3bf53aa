// ContactFinder (server/kommo/contact_finder.h) over a small model of Kommo's contacts: a loose
// `query` search (any phone whose digits contain the query's, any email containing it) served in
// pages of 250, and creates and PATCHes that are recorded and can be held back to keep a call
// running. Everything runs on the fake event loop.

#include "server/kommo/contact_finder.h"

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"
#include "tests/support/fake_event_loop.h"

namespace kommo::rest {
namespace {

using ::kommo::testing::FakeEventLoop;
using ::kommo::v1::Contact;
using ::kommo::v1::FindOrCreateContactRequest;
using ::kommo::v1::FindOrCreateContactResponse;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string DigitsOf(const std::string& text) {
  std::string digits;
  for (char c : text) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) digits.push_back(c);
  }
  return digits;
}

Contact MakeContact(int64_t id, std::vector<std::string> phones,
                    std::vector<std::string> emails = {}) {
  Contact contact;
  contact.set_id(id);
  contact.set_name(absl::StrCat("contact ", id));
  for (std::string& phone : phones) contact.add_phones(std::move(phone));
  for (std::string& email : emails) contact.add_emails(std::move(email));
  return contact;
}

// Kommo's contacts as the finder sees them through ContactFinderOps.
class FakeContacts {
 public:
  explicit FakeContacts(FakeEventLoop* loop) : loop_(loop) {}

  std::vector<Contact> contacts;
  // Every search asked: query and page.
  std::vector<std::pair<std::string, int64_t>> searches;
  std::vector<v1::CreateContactRequest> creates;
  std::vector<kommo::v1::UpdateContactRequest> updates;
  // Every contact read by id (a write answered without its read-back asked for more).
  std::vector<int64_t> gets;
  // When set, creates are answered only by ReleaseCreates() (the call stays running).
  bool hold_creates = false;
  // Whether a created contact is found by later searches (Kommo's search may lag).
  bool search_sees_creates = true;

  size_t requests() const {
    return searches.size() + creates.size() + updates.size() + gets.size();
  }

  ContactFinderOps Ops() {
    ContactFinderOps ops;
    ops.search = [this](const std::string& query, int64_t page, CallOptions,
                        Done<EntityPage<Contact>> done) {
      searches.emplace_back(query, page);
      std::vector<Contact> found;
      for (const Contact& contact : contacts) {
        if (LooselyMatches(contact, query)) found.push_back(contact);
      }
      EntityPage<Contact> answer;
      const size_t first = static_cast<size_t>(page - 1) * kLookupPageSize;
      for (size_t i = first; i < found.size() && i < first + kLookupPageSize; ++i) {
        answer.items.push_back(found[i]);
      }
      answer.has_next = found.size() > first + kLookupPageSize;
      loop_->Post([done = std::move(done), answer = std::move(answer)]() mutable {
        done(std::move(answer));
      });
    };
    ops.create = [this](const v1::CreateContactRequest& request, CallOptions, Done<Contact> done) {
      creates.push_back(request);
      Contact created;
      created.set_id(next_id_++);
      created.set_name(request.name());
      created.set_first_name(request.first_name());
      created.set_last_name(request.last_name());
      created.set_responsible_user_id(request.responsible_user_id());
      *created.mutable_phones() = request.phones();
      *created.mutable_emails() = request.emails();
      if (search_sees_creates) contacts.push_back(created);
      stored_.push_back(created);
      held_.push_back(
          [done = std::move(done), answer = Answer(request, created)]() mutable { done(answer); });
      if (!hold_creates) ReleaseCreates();
    };
    ops.update_values = [this](const kommo::v1::UpdateContactRequest& request, CallOptions,
                               Done<Contact> done) {
      updates.push_back(request);
      Contact updated;
      for (Contact& contact : contacts) {
        if (contact.id() != request.contact_id()) continue;
        if (request.has_phones()) *contact.mutable_phones() = request.phones().values();
        if (request.has_emails()) *contact.mutable_emails() = request.emails().values();
        updated = contact;
      }
      loop_->Post([done = std::move(done), updated = Answer(request, updated)]() mutable {
        done(updated);
      });
    };
    ops.get = [this](int64_t id, CallOptions, Done<Contact> done) {
      gets.push_back(id);
      Contact found;
      for (const Contact& contact : stored_) {
        if (contact.id() == id) found = contact;
      }
      loop_->Post([done = std::move(done), found]() mutable { done(found); });
    };
    return ops;
  }

  void ReleaseCreates() {
    while (!held_.empty()) {
      loop_->Post(std::move(held_.front()));
      held_.pop_front();
    }
  }

 private:
  static bool LooselyMatches(const Contact& contact, const std::string& query) {
    const std::string digits = DigitsOf(query);
    if (digits == query) {
      for (const std::string& phone : contact.phones()) {
        if (DigitsOf(phone).find(digits) != std::string::npos) return true;
      }
    }
    for (const std::string& email : contact.emails()) {
      if (absl::AsciiStrToLower(email).find(query) != std::string::npos) return true;
    }
    return false;
  }

  // A write's answer: only the id when its read_mask asks only for that (no read-back).
  template <typename Request>
  static Contact Answer(const Request& request, const Contact& written) {
    if (!OnlyWriteDetermined(request.read_mask())) return written;
    Contact id_only;
    id_only.set_id(written.id());
    return id_only;
  }

  FakeEventLoop* loop_;
  // Every contact created, whether or not the search sees it yet.
  std::vector<Contact> stored_;
  int64_t next_id_ = 5000000001;
  std::deque<EventLoop::Task> held_;
};

std::string Reason(const absl::Status& status) {
  auto info = GetErrorInfo(status);
  return info.has_value() ? info->reason() : "<none>";
}

std::vector<int64_t> Ids(const std::vector<Contact>& contacts) {
  std::vector<int64_t> ids;
  for (const Contact& contact : contacts) ids.push_back(contact.id());
  return ids;
}

class ContactFinderTest : public ::testing::Test {
 protected:
  ContactFinderTest() : kommo_(&loop_), finder_(&loop_, kommo_.Ops()) {}

  using LookupResult = std::optional<absl::StatusOr<std::vector<Contact>>>;
  using FindResult = std::optional<absl::StatusOr<FindOrCreateContactResponse>>;

  LookupResult Lookup(std::vector<std::string> phones, std::vector<std::string> emails) {
    LookupResult result;
    finder_.Lookup(
        phones, emails, CallOptions{},
        [&result](absl::StatusOr<std::vector<Contact>> found) { result = std::move(found); });
    loop_.RunUntilIdle();
    return result;
  }

  // Starts a FindOrCreate whose answer lands in `out`; nothing runs until the loop does.
  void FindOrCreate(const FindOrCreateContactRequest& request, FindResult& out,
                    CallOptions options = {}) {
    finder_.FindOrCreate(request, std::move(options),
                         [&out](absl::StatusOr<FindOrCreateContactResponse> result) {
                           ASSERT_FALSE(out.has_value()) << "answered twice";
                           out = std::move(result);
                         });
  }

  static FindOrCreateContactRequest ForPhone(const std::string& phone, bool add_missing = false) {
    FindOrCreateContactRequest request;
    request.mutable_contact()->set_name("Anna");
    request.mutable_contact()->add_phones(phone);
    request.set_add_missing(add_missing);
    return request;
  }

  FakeEventLoop loop_;
  FakeContacts kommo_;
  ContactFinder finder_;
};

// ---- Lookup -------------------------------------------------------------------------------------

TEST_F(ContactFinderTest, LookupKeepsOnlyExactMatchesOfKommosLooseResults) {
  kommo_.contacts = {
      MakeContact(7, {"+7 999 123-45-67"}),
      MakeContact(3, {"+44 9123 4567"}),          // the same last digits, another number
      MakeContact(5, {"8 (999) 123 45 67"}),      // the same number in its trunk form
      MakeContact(9, {}, {"Anna@Example.COM"}),   // the email, written otherwise
      MakeContact(4, {}, {"hanna@example.com"}),  // contains the email, is not it
      MakeContact(2, {"+7 999 123-45-68"}),
  };
  LookupResult result = Lookup({"+79991234567"}, {"anna@example.com"});
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_THAT(Ids(**result), ElementsAre(5, 7, 9)) << "exact matches, by ascending id";
  EXPECT_THAT(kommo_.searches,
              ElementsAre(std::make_pair(std::string("91234567"), int64_t{1}),
                          std::make_pair(std::string("anna@example.com"), int64_t{1})));
}

TEST_F(ContactFinderTest, LookupAsksOncePerDistinctPhoneOrEmail) {
  LookupResult result = Lookup({"+7 999 123-45-67", "8 (999) 123-45-67", "+79991234567"},
                               {"A@B.C", " a@b.c ", "other@b.c"});
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_THAT(**result, IsEmpty());
  std::vector<std::string> queries;
  for (const auto& [query, page] : kommo_.searches) queries.push_back(query);
  EXPECT_THAT(queries, ElementsAre("91234567", "a@b.c", "other@b.c"));
}

TEST_F(ContactFinderTest, LookupWithNothingToAskAnswersEmptyWithoutKommo) {
  LookupResult result = Lookup({"12"}, {"  "});  // an unparsable phone, a blank email
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_THAT(**result, IsEmpty());
  EXPECT_THAT(kommo_.searches, IsEmpty());
}

TEST_F(ContactFinderTest, LookupReadsUpToThreePagesAndFindsAMatchOnTheLast) {
  // 600 loose candidates: pages of 250, 250 and 100, the exact match among the last.
  for (int i = 0; i < 599; ++i) {
    kommo_.contacts.push_back(
        MakeContact(100 + i, {absl::StrCat("+1 555 ", 1000 + i, "91234567")}));
  }
  kommo_.contacts.push_back(MakeContact(42, {"+79991234567"}));
  LookupResult result = Lookup({"+7 999 123 45 67"}, {});
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_THAT(Ids(**result), ElementsAre(42));
  ASSERT_EQ(kommo_.searches.size(), 3u);
  EXPECT_EQ(kommo_.searches[0].second, 1);
  EXPECT_EQ(kommo_.searches[1].second, 2);
  EXPECT_EQ(kommo_.searches[2].second, 3);
}

TEST_F(ContactFinderTest, LookupGivesUpAfterThreeFullPagesAsTooBroad) {
  for (int i = 0; i < 751; ++i) {
    kommo_.contacts.push_back(
        MakeContact(100 + i, {absl::StrCat("+1 555 ", 1000 + i, "91234567")}));
  }
  LookupResult result = Lookup({"+7 999 123 45 67"}, {});
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(result->status()), "LOOKUP_TOO_BROAD");
  EXPECT_THAT(std::string(result->status().message()),
              ::testing::Not(::testing::HasSubstr("9991234567")))
      << "no phone in messages";
  ASSERT_EQ(kommo_.searches.size(), 3u) << "no fourth page is read";
  EXPECT_EQ(kommo_.searches.back().second, 3);
}

TEST_F(ContactFinderTest, LookupPassesOnAFailedSearch) {
  ContactFinderOps ops = kommo_.Ops();
  ops.search = [this](const std::string&, int64_t, CallOptions, Done<EntityPage<Contact>> done) {
    loop_.Post([done = std::move(done)]() mutable {
      done(MakeError(absl::StatusCode::kUnavailable, "Kommo is unavailable",
                     reason::kKommoUnavailable));
    });
  };
  ContactFinder finder(&loop_, std::move(ops));
  LookupResult result;
  finder.Lookup(
      {"+79991234567"}, {"a@b.c"}, CallOptions{},
      [&result](absl::StatusOr<std::vector<Contact>> found) { result = std::move(found); });
  loop_.RunUntilIdle();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Reason(result->status()), "KOMMO_UNAVAILABLE");
}

// ---- FindOrCreate -------------------------------------------------------------------------------

TEST_F(ContactFinderTest, AmbiguousMatchesWriteNothing) {
  kommo_.contacts = {MakeContact(11, {"+79991234567"}), MakeContact(12, {"8 999 123-45-67"}),
                     MakeContact(13, {"+7 999 000-00-00"})};
  FindResult result;
  FindOrCreate(ForPhone("+7 999 123 45 67", /*add_missing=*/true), result);
  loop_.RunUntilIdle();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Reason(result->status()), "CONTACT_AMBIGUOUS");
  EXPECT_EQ(GetErrorInfo(result->status())->metadata().at("candidate_ids"), "11,12");
  EXPECT_THAT(kommo_.creates, IsEmpty());
  EXPECT_THAT(kommo_.updates, IsEmpty());
}

TEST_F(ContactFinderTest, NoMatchCreatesTheNewContact) {
  kommo_.contacts = {MakeContact(3, {"+44 9123 4567"})};  // loose only
  FindOrCreateContactRequest request;
  v1::NewContact& person = *request.mutable_contact();
  person.set_name("Anna Smith");
  person.set_first_name("Anna");
  person.set_last_name("Smith");
  person.set_responsible_user_id(504141);
  person.add_phones("+7 999 123 45 67");
  person.add_emails("anna@example.com");
  FindResult result;
  FindOrCreate(request, result);
  loop_.RunUntilIdle();
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_EQ((*result)->outcome(), FindOrCreateContactResponse::OUTCOME_CREATED);
  EXPECT_EQ((*result)->contact().id(), 5000000001);
  ASSERT_EQ(kommo_.creates.size(), 1u);
  const v1::CreateContactRequest& created = kommo_.creates[0];
  EXPECT_EQ(created.name(), "Anna Smith");
  EXPECT_EQ(created.first_name(), "Anna");
  EXPECT_EQ(created.last_name(), "Smith");
  EXPECT_EQ(created.responsible_user_id(), 504141);
  EXPECT_THAT(created.phones(), ElementsAre("+7 999 123 45 67"));
  EXPECT_THAT(created.emails(), ElementsAre("anna@example.com"));
  EXPECT_THAT(kommo_.updates, IsEmpty());
}

TEST_F(ContactFinderTest, AMatchIsReturnedAsItIsWithoutAddMissing) {
  kommo_.contacts = {MakeContact(21, {"+79991234567"}, {"old@example.com"})};
  FindOrCreateContactRequest request = ForPhone("8 999 123 45 67");
  request.mutable_contact()->add_phones("+7 999 000 00 00");
  FindResult result;
  FindOrCreate(request, result);
  loop_.RunUntilIdle();
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_EQ((*result)->outcome(), FindOrCreateContactResponse::OUTCOME_MATCHED);
  EXPECT_EQ((*result)->contact().id(), 21);
  EXPECT_THAT(kommo_.creates, IsEmpty());
  EXPECT_THAT(kommo_.updates, IsEmpty());
}

TEST_F(ContactFinderTest, AddMissingPatchesOnlyTheFieldThatChangesWithItsCompleteList) {
  kommo_.contacts = {MakeContact(21, {"+79991234567"}, {"old@example.com"})};
  FindOrCreateContactRequest request = ForPhone("8 999 123 45 67", /*add_missing=*/true);
  request.mutable_contact()->add_phones("+7 999 000 00 00");
  request.mutable_contact()->add_emails("OLD@example.com");  // held already, written otherwise
  FindResult result;
  FindOrCreate(request, result);
  loop_.RunUntilIdle();
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_EQ((*result)->outcome(), FindOrCreateContactResponse::OUTCOME_MATCHED);
  EXPECT_EQ((*result)->contact().id(), 21);
  EXPECT_THAT((*result)->contact().phones(), ElementsAre("+79991234567", "+7 999 000 00 00"));
  ASSERT_EQ(kommo_.updates.size(), 1u);
  EXPECT_EQ(kommo_.updates[0].contact_id(), 21);
  EXPECT_THAT(kommo_.updates[0].phones().values(), ElementsAre("+79991234567", "+7 999 000 00 00"));
  EXPECT_FALSE(kommo_.updates[0].has_emails()) << "the emails field is left alone";
  EXPECT_THAT(kommo_.creates, IsEmpty());
}

TEST_F(ContactFinderTest, AddMissingWithNothingMissingWritesNothing) {
  kommo_.contacts = {MakeContact(21, {"+79991234567"}, {"a@b.c"})};
  FindOrCreateContactRequest request = ForPhone("8 999 123 45 67", /*add_missing=*/true);
  request.mutable_contact()->add_emails("A@B.C");
  FindResult result;
  FindOrCreate(request, result);
  loop_.RunUntilIdle();
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_EQ((*result)->outcome(), FindOrCreateContactResponse::OUTCOME_MATCHED);
  EXPECT_THAT(kommo_.updates, IsEmpty());
}

TEST_F(ContactFinderTest, FiftyConcurrentCallsForOnePhoneCreateOneContact) {
  kommo_.search_sees_creates = false;  // Kommo's search lags: only the lock prevents duplicates
  std::vector<FindResult> results(50);
  for (int i = 0; i < 50; ++i) {
    // The same number, written in different ways.
    FindOrCreate(ForPhone(i % 2 == 0 ? "+7 999 123-45-67" : "8 (999) 1234567"), results[i]);
  }
  EXPECT_EQ(finder_.waiting(), 49u);
  loop_.RunUntilIdle();
  ASSERT_EQ(kommo_.creates.size(), 1u);
  EXPECT_EQ(kommo_.searches.size(), 1u) << "followers take the holder's contact";
  int created = 0;
  int matched = 0;
  for (const FindResult& result : results) {
    ASSERT_TRUE(result.has_value());
    ASSERT_TRUE(result->ok()) << result->status();
    EXPECT_EQ((*result)->contact().id(), 5000000001);
    created += (*result)->outcome() == FindOrCreateContactResponse::OUTCOME_CREATED;
    matched += (*result)->outcome() == FindOrCreateContactResponse::OUTCOME_MATCHED;
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(matched, 49);
  EXPECT_EQ(finder_.waiting(), 0u);
}

TEST_F(ContactFinderTest, AnIdMaskWritesWithoutReadBackAndFollowersAskingMoreReadById) {
  kommo_.search_sees_creates = false;  // only the lock keeps the followers from creating again
  kommo_.hold_creates = true;
  auto masked = [](FindOrCreateContactRequest request, std::vector<std::string> paths) {
    for (std::string& path : paths) request.mutable_read_mask()->add_paths(std::move(path));
    return request;
  };
  std::vector<FindResult> results(4);
  FindOrCreate(masked(ForPhone("+7 999 123-45-67"), {"contact.id", "outcome"}), results[0]);
  FindOrCreate(masked(ForPhone("8 (999) 1234567"), {"contact.id"}), results[1]);
  FindOrCreate(ForPhone("+79991234567"), results[2]);
  FindOrCreate(masked(ForPhone("+79991234567", /*add_missing=*/true), {"contact.name"}),
               results[3]);
  loop_.RunUntilIdle();
  ASSERT_EQ(kommo_.creates.size(), 1u);
  EXPECT_THAT(kommo_.creates[0].read_mask().paths(), ElementsAre("id"));
  kommo_.ReleaseCreates();
  loop_.RunUntilIdle();
  for (const FindResult& result : results) {
    ASSERT_TRUE(result.has_value());
    ASSERT_TRUE(result->ok()) << result->status();
    EXPECT_EQ((*result)->contact().id(), 5000000001);
  }
  EXPECT_EQ((*results[0])->outcome(), FindOrCreateContactResponse::OUTCOME_CREATED);
  EXPECT_EQ((*results[0])->contact().name(), "");  // written without a read-back
  EXPECT_EQ((*results[1])->outcome(), FindOrCreateContactResponse::OUTCOME_MATCHED);
  EXPECT_EQ((*results[1])->contact().name(), "");
  // The others ask for more than the id: the contact is read by id, not searched for, and the
  // follower with add_missing finds nothing missing (the holder wrote its phone).
  for (int i : {2, 3}) {
    EXPECT_EQ((*results[i])->outcome(), FindOrCreateContactResponse::OUTCOME_MATCHED);
    EXPECT_EQ((*results[i])->contact().name(), "Anna");
    EXPECT_EQ((*results[i])->contact().phones_size(), 1);
  }
  EXPECT_THAT(kommo_.gets, ElementsAre(5000000001, 5000000001));
  EXPECT_EQ(kommo_.searches.size(), 1u);
  EXPECT_THAT(kommo_.updates, IsEmpty());
}

TEST_F(ContactFinderTest, AnIdMaskOnAMatchThatGainsAPhoneSkipsTheReadBack) {
  kommo_.contacts.push_back(MakeContact(42, {"+7 999 123 45 67"}));
  FindOrCreateContactRequest request = ForPhone("8 999 123 45 67", /*add_missing=*/true);
  request.mutable_contact()->add_phones("+7 999 765 43 21");
  request.mutable_read_mask()->add_paths("contact.id");
  FindResult result;
  FindOrCreate(request, result);
  loop_.RunUntilIdle();
  ASSERT_TRUE(result.has_value() && result->ok());
  EXPECT_EQ((*result)->outcome(), FindOrCreateContactResponse::OUTCOME_MATCHED);
  EXPECT_EQ((*result)->contact().id(), 42);
  EXPECT_EQ((*result)->contact().phones_size(), 0);
  ASSERT_EQ(kommo_.updates.size(), 1u);
  EXPECT_THAT(kommo_.updates[0].read_mask().paths(), ElementsAre("id"));
  EXPECT_THAT(kommo_.updates[0].phones().values(),
              ElementsAre("+7 999 123 45 67", "+7 999 765 43 21"));
}

TEST_F(ContactFinderTest, AFollowerWithMorePhonesThanTheHolderLooksItselfUp) {
  std::vector<FindResult> results(2);
  FindOrCreate(ForPhone("+79991234567"), results[0]);
  FindOrCreateContactRequest wider = ForPhone("+79991234567");
  wider.mutable_contact()->add_phones("+7 999 000 00 00");
  FindOrCreate(wider, results[1]);
  loop_.RunUntilIdle();
  ASSERT_TRUE(results[0].has_value() && results[1].has_value());
  ASSERT_TRUE(results[1]->ok()) << results[1]->status();
  EXPECT_EQ((*results[1])->outcome(), FindOrCreateContactResponse::OUTCOME_MATCHED);
  EXPECT_EQ((*results[1])->contact().id(), (*results[0])->contact().id());
  EXPECT_EQ(kommo_.creates.size(), 1u);
  EXPECT_EQ(kommo_.searches.size(), 3u) << "one for the holder, two for the follower";
}

TEST_F(ContactFinderTest, ACallForAnotherPhoneIsNotBlocked) {
  kommo_.hold_creates = true;
  FindResult first, other;
  FindOrCreate(ForPhone("+79991234567"), first);
  loop_.RunUntilIdle();
  ASSERT_EQ(kommo_.creates.size(), 1u);
  ASSERT_FALSE(first.has_value()) << "its create is held";

  FindOrCreate(ForPhone("+7 912 555 00 11"), other);
  EXPECT_EQ(finder_.waiting(), 0u);
  loop_.RunUntilIdle();
  EXPECT_EQ(kommo_.creates.size(), 2u) << "the other phone went ahead";
  EXPECT_FALSE(first.has_value());
  kommo_.ReleaseCreates();
  loop_.RunUntilIdle();
  ASSERT_TRUE(first.has_value() && other.has_value());
  ASSERT_TRUE(first->ok() && other->ok());
  EXPECT_NE((*first)->contact().id(), (*other)->contact().id());
}

TEST_F(ContactFinderTest, AWaitingCallLeavesAtItsDeadlineWithoutAskingKommo) {
  kommo_.hold_creates = true;
  FindResult holder, impatient;
  FindOrCreate(ForPhone("+79991234567"), holder);
  loop_.RunUntilIdle();
  const size_t requests_before = kommo_.requests();
  FindOrCreate(ForPhone("8 999 123 45 67"), impatient,
               CallOptions{loop_.Now() + absl::Seconds(1), nullptr, nullptr});
  EXPECT_EQ(finder_.waiting(), 1u);
  loop_.Advance(absl::Seconds(2));
  ASSERT_TRUE(impatient.has_value());
  EXPECT_EQ(impatient->status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Reason(impatient->status()), "DEADLINE_EXCEEDED");
  EXPECT_EQ(finder_.waiting(), 0u);
  EXPECT_EQ(kommo_.requests(), requests_before) << "the waiting call asked Kommo nothing";

  kommo_.ReleaseCreates();
  loop_.RunUntilIdle();  // the holder finishes; the call that left is not answered again
  ASSERT_TRUE(holder.has_value());
  EXPECT_TRUE(holder->ok()) << holder->status();
  EXPECT_EQ(kommo_.requests(), requests_before);
}

TEST_F(ContactFinderTest, AWaitingCallLeavesWhenItsCallerCancelsWithoutAskingKommo) {
  kommo_.hold_creates = true;
  FindResult holder, gone;
  FindOrCreate(ForPhone("+79991234567"), holder);
  loop_.RunUntilIdle();
  const size_t requests_before = kommo_.requests();
  auto cancel = std::make_shared<CancellationToken>();
  FindOrCreate(ForPhone("8 999 123 45 67"), gone,
               CallOptions{absl::InfiniteFuture(), cancel, nullptr});
  EXPECT_EQ(finder_.waiting(), 1u);
  cancel->Cancel();
  loop_.RunUntilIdle();
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(Reason(gone->status()), "CANCELLED");
  EXPECT_EQ(finder_.waiting(), 0u);

  kommo_.ReleaseCreates();
  loop_.RunUntilIdle();
  ASSERT_TRUE(holder.has_value());
  EXPECT_TRUE(holder->ok()) << holder->status();
  EXPECT_EQ(kommo_.requests(), requests_before) << "the call that left asked Kommo nothing";
}

TEST_F(ContactFinderTest, AFailedHolderLetsTheNextCallRunItself) {
  kommo_.contacts = {MakeContact(11, {"+79991234567"}), MakeContact(12, {"8 999 123-45-67"})};
  std::vector<FindResult> results(2);
  FindOrCreate(ForPhone("+79991234567"), results[0]);
  FindOrCreate(ForPhone("+79991234567"), results[1]);
  loop_.RunUntilIdle();
  for (const FindResult& result : results) {
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(Reason(result->status()), "CONTACT_AMBIGUOUS");
  }
  EXPECT_EQ(kommo_.searches.size(), 2u) << "a failure is not handed on; the next call looks itself";
}

}  // namespace
}  // namespace kommo::rest
