// Lead capture: POST /leads/complex (a lead with its new contact and company in one item, with
// Kommo's duplicate control) and incoming leads ("unsorted": POST /leads/unsorted/forms, accept,
// decline, the list and the summary).
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "emulator/api_common.h"
#include "emulator/faults.h"
#include "emulator/text.h"

namespace kommo::emulator {
namespace {

constexpr char kCountCode[] = "Count";
constexpr char kUnsortedNotFound[] = "Incoming lead not found";
constexpr char kFormsCategory[] = "forms";

bool IsClosed(int64_t status_id) { return status_id == kWonStatusId || status_id == kLostStatusId; }

// --- items with embedded entities ------------------------------------------------------------

// _embedded.<key> of a complex lead or an incoming lead: at most one entity. {"id":N} names an
// existing one; any other object is a new one, validated like POST /<key> (paths
// "_embedded.<key>.0.<member>").
template <typename Entity, typename BuildAt>
void ReadEmbeddedOne(const Store& store, ItemReader& embedded, const char* key,
                     const std::map<int64_t, Entity>& existing, BuildAt build,
                     const WriteContext& context, std::optional<Entity>* created,
                     std::optional<int64_t>* existing_id) {
  const rapidjson::Value* list = embedded.NullableArray(key);
  if (list == nullptr || list->Empty()) return;
  if (list->Size() > 1) {
    embedded.Error(kCountCode, key, "This collection should contain 1 element or less.");
    return;
  }
  const rapidjson::Value& entry = (*list)[0];
  if (!entry.IsObject()) {
    embedded.TypeError(absl::StrCat(key, ".0"), "object");
    return;
  }
  const std::string prefix = embedded.Path(absl::StrCat(key, ".0."));
  ItemReader entry_reader(entry, prefix, embedded.errors());
  if (entry_reader.Find("id") != nullptr) {
    const std::optional<int64_t> id = entry_reader.Int("id");
    if (!id.has_value()) return;
    if (existing.count(*id) == 0) {
      entry_reader.ChoiceError("id");
      return;
    }
    *existing_id = *id;
    return;
  }
  Entity entity;
  std::vector<FieldError> errors = build(store, entry, prefix, context, &entity);
  embedded.errors()->insert(embedded.errors()->end(), errors.begin(), errors.end());
  *created = std::move(entity);
}

// The contact and company of an item: created, or existing ones named by id.
struct Attached {
  std::optional<Contact> new_contact;
  std::optional<int64_t> contact_id;
  std::optional<Company> new_company;
  std::optional<int64_t> company_id;
};

void ReadAttached(const Store& store, ItemReader& embedded, const WriteContext& context,
                  Attached* attached) {
  ReadEmbeddedOne(store, embedded, "contacts", store.contacts(), &BuildNewContactAt, context,
                  &attached->new_contact, &attached->contact_id);
  ReadEmbeddedOne(store, embedded, "companies", store.companies(), &BuildNewCompanyAt, context,
                  &attached->new_company, &attached->company_id);
}

// Saves a new company (if any) and returns the item's company id. The Save* functions report
// what they save to `changes`.
std::optional<int64_t> SaveCompany(Store* store, Attached* attached, ChangeRecorder* changes) {
  if (attached->new_company.has_value()) {
    attached->new_company->id = store->NextCompanyId();
    attached->company_id = attached->new_company->id;
    store->RegisterTags("companies", attached->new_company->tags);
    changes->Added(store->companies()
                       .emplace(attached->new_company->id, std::move(*attached->new_company))
                       .first->second);
  }
  return attached->company_id;
}

int64_t SaveNewContact(Store* store, Contact contact, std::optional<int64_t> company_id,
                       ChangeRecorder* changes) {
  contact.id = store->NextContactId();
  contact.company_id = company_id;
  const int64_t id = contact.id;
  store->RegisterTags("contacts", contact.tags);
  changes->Added(store->contacts().emplace(id, std::move(contact)).first->second);
  return id;
}

// Saves the lead, linked to its contact (as main) and company; returns its id.
int64_t SaveLead(Store* store, Lead lead, std::optional<int64_t> contact_id,
                 std::optional<int64_t> company_id, ChangeRecorder* changes) {
  lead.id = store->NextLeadId();
  lead.contacts.clear();
  if (contact_id.has_value()) lead.contacts.push_back(LeadContact{*contact_id, true});
  lead.company_id = company_id;
  const int64_t id = lead.id;
  store->RegisterTags("leads", lead.tags);
  changes->Added(store->leads().emplace(id, std::move(lead)).first->second);
  return id;
}

void WriteOptionalId(JsonWriter& w, std::string_view key, const std::optional<int64_t>& id) {
  Key(w, key);
  if (id.has_value()) {
    w.Int64(*id);
  } else {
    w.Null();
  }
}

// --- duplicate control ---------------------------------------------------------------------------

// A phone as duplicate control compares it: its digits; an 11-digit number starting with 8 is the
// same as 7 and the rest (Russia's trunk prefix: 8 999 … and +7 999 … are one number).
std::string NormalizedPhone(std::string_view value) {
  std::string digits = DigitsOf(value);
  if (digits.size() == 11 && digits[0] == '8') digits[0] = '7';
  return digits;
}

std::string NormalizedEmail(std::string_view value) {
  return AsciiLower(std::string(absl::StripAsciiWhitespace(AsAbsl(value))));
}

// A value of a PHONE or EMAIL field as duplicate control compares it; "" for other fields.
std::string DuplicateKey(int64_t field_id, const std::string& value) {
  if (field_id == kPhoneFieldId) {
    const std::string phone = NormalizedPhone(value);
    return phone.empty() ? "" : absl::StrCat("phone:", phone);
  }
  if (field_id == kEmailFieldId) {
    const std::string email = NormalizedEmail(value);
    return email.empty() ? "" : absl::StrCat("email:", email);
  }
  return "";
}

std::set<std::string> DuplicateKeys(const std::vector<FieldValues>& fields) {
  std::set<std::string> keys;
  for (const FieldValues& field : fields) {
    for (const FieldValue& value : field.values) {
      std::string key = DuplicateKey(field.field_id, value.value);
      if (!key.empty()) keys.insert(std::move(key));
    }
  }
  return keys;
}

// The existing contacts (not those made by this request) that share a phone or an email with
// `contact`, oldest first.
std::vector<Contact*> FindDuplicates(Store* store, const Contact& contact,
                                     const std::set<int64_t>& made_here) {
  const std::set<std::string> keys = DuplicateKeys(contact.fields);
  std::vector<Contact*> matches;
  if (keys.empty()) return matches;
  for (auto& [id, existing] : store->contacts()) {
    if (made_here.count(id) > 0) continue;
    const std::set<std::string> existing_keys = DuplicateKeys(existing.fields);
    const bool shared = std::any_of(keys.begin(), keys.end(), [&](const std::string& key) {
      return existing_keys.count(key) > 0;
    });
    if (shared) matches.push_back(&existing);
  }
  std::stable_sort(matches.begin(), matches.end(), [](const Contact* a, const Contact* b) {
    return a->created_at != b->created_at ? a->created_at < b->created_at : a->id < b->id;
  });
  return matches;
}

// The merge: `target` gets the phones and emails of `source` it lacks (compared normalized).
void AddMissingValues(const Store& store, const Contact& source, Contact* target) {
  std::set<std::string> have = DuplicateKeys(target->fields);
  for (const FieldValues& field : source.fields) {
    for (const FieldValue& value : field.values) {
      const std::string key = DuplicateKey(field.field_id, value.value);
      if (key.empty() || !have.insert(key).second) continue;
      auto slot = std::find_if(target->fields.begin(), target->fields.end(),
                               [&](const FieldValues& f) { return f.field_id == field.field_id; });
      if (slot == target->fields.end()) {
        target->fields.push_back(FieldValues{field.field_id, {}});
        slot = target->fields.end() - 1;
      }
      slot->values.push_back(value);
    }
  }
  auto sort_of = [&store](const FieldValues& f) {
    const CustomField* custom = store.FindContactField(f.field_id);
    return custom == nullptr ? 0 : custom->sort;
  };
  std::stable_sort(
      target->fields.begin(), target->fields.end(),
      [&](const FieldValues& a, const FieldValues& b) { return sort_of(a) < sort_of(b); });
}

// --- complex leads -----------------------------------------------------------------------------

struct ComplexItem {
  std::string request_id;
  Lead lead;
  Attached attached;
};

std::vector<FieldError> ReadComplexItem(const Store& store, const rapidjson::Value& item,
                                        const WriteContext& context, ComplexItem* out) {
  if (!item.IsObject()) return NotAnObject();
  std::vector<FieldError> errors = BuildNewLeadFields(store, item, "", context, &out->lead);
  ItemReader reader(item, "", &errors);
  const rapidjson::Value* embedded = reader.NullableObject("_embedded");
  if (embedded == nullptr) return errors;
  ItemReader embedded_reader(*embedded, "_embedded.", &errors);
  // _embedded.tags are the lead's: BuildNewLeadFields read them.
  embedded_reader.NullableObject("metadata");  // accepted and dropped
  embedded_reader.NullableObject("source");    // accepted and dropped
  ReadAttached(store, embedded_reader, context, &out->attached);
  return errors;
}

// --- incoming leads ----------------------------------------------------------------------------

// A required, non-empty string member; NotBlank when absent, null or "".
std::string RequiredString(ItemReader& reader, const char* key) {
  const rapidjson::Value* member = reader.Find(key);
  const std::optional<std::string> value = reader.String(key);
  if (member == nullptr || member->IsNull() || (value.has_value() && value->empty())) {
    reader.Error(kNotBlankCode, key, kNotBlankDetail);
  }
  return value.value_or("");
}

struct FormItem {
  std::string request_id;
  UnsortedEntry entry;
  Lead lead;
  Attached attached;
};

// Custom-field values and tags, for ContentKey.
void WriteStoredValues(JsonWriter& w, const std::vector<FieldValues>& fields,
                       const std::vector<std::string>& tags) {
  w.StartArray();
  for (const FieldValues& field : fields) {
    for (const FieldValue& value : field.values) {
      w.Int64(field.field_id);
      Str(w, value.value);
      w.Int64(value.enum_id);
      w.Bool(value.flag);
      w.Int64(value.time);
    }
  }
  for (const std::string& tag : tags) Str(w, tag);
  w.EndArray();
}

// A stable text of what an incoming lead stores, to refuse an identical second one: the members
// the emulator keeps (unknown ones are dropped, so they cannot make two entries differ).
std::string ContentKey(const rapidjson::Value& item, const FormItem& form) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartArray();
  const UnsortedEntry& e = form.entry;
  for (const std::string* text : {&e.source_uid, &e.source_name, &e.form_id, &e.form_name}) {
    Str(w, *text);
  }
  for (const std::optional<std::string>* text : {&e.form_page, &e.ip, &e.referer}) {
    if (text->has_value()) {
      Str(w, **text);
    } else {
      w.Null();
    }
  }
  w.Int64(e.form_sent_at.value_or(-1));
  w.Int64(e.pipeline_id);
  const auto created_at = item.FindMember("created_at");
  w.Int64(created_at != item.MemberEnd() && created_at->value.IsInt64()
              ? created_at->value.GetInt64()
              : -1);
  Str(w, form.lead.name);
  w.Int64(form.lead.price);
  w.Int64(form.lead.responsible_user_id);
  WriteStoredValues(w, form.lead.fields, form.lead.tags);
  const Attached& a = form.attached;
  w.Int64(a.contact_id.value_or(-1));
  w.Int64(a.company_id.value_or(-1));
  if (a.new_contact.has_value()) {
    Str(w, a.new_contact->name);
    Str(w, a.new_contact->first_name);
    Str(w, a.new_contact->last_name);
    WriteStoredValues(w, a.new_contact->fields, a.new_contact->tags);
  }
  w.Null();
  if (a.new_company.has_value()) {
    Str(w, a.new_company->name);
    WriteStoredValues(w, a.new_company->fields, a.new_company->tags);
  }
  w.EndArray();
  return Finish(buffer);
}

std::vector<FieldError> ReadFormItem(const Store& store, const rapidjson::Value& item,
                                     const WriteContext& context, FormItem* out) {
  if (!item.IsObject()) return NotAnObject();
  std::vector<FieldError> errors;
  ItemReader reader(item, "", &errors);
  UnsortedEntry& entry = out->entry;
  entry.category = kFormsCategory;
  entry.source_uid = RequiredString(reader, "source_uid");
  entry.source_name = RequiredString(reader, "source_name");
  const Pipeline* pipeline = &store.main_pipeline();
  if (const std::optional<int64_t> pipeline_id = reader.Int("pipeline_id")) {
    pipeline = store.FindPipeline(*pipeline_id);
    if (pipeline == nullptr) {
      reader.ChoiceError("pipeline_id");
      pipeline = &store.main_pipeline();
    }
  }
  entry.pipeline_id = pipeline->id;
  entry.created_at = reader.Int("created_at").value_or(context.now);

  const rapidjson::Value* metadata = reader.NullableObject("metadata");
  if (metadata == nullptr) {
    if (reader.Find("metadata") == nullptr || reader.Find("metadata")->IsNull()) {
      reader.Error(kNotBlankCode, "metadata", kNotBlankDetail);
    }
  } else {
    ItemReader meta(*metadata, "metadata.", &errors);
    // form_id: a string, or a number kept as its text.
    const rapidjson::Value* form_id = meta.Find("form_id");
    if (form_id != nullptr && form_id->IsInt64()) {
      entry.form_id = absl::StrCat(form_id->GetInt64());
    } else {
      entry.form_id = RequiredString(meta, "form_id");
    }
    entry.form_name = RequiredString(meta, "form_name");
    entry.form_page = meta.String("form_page");
    entry.ip = meta.String("ip");
    entry.form_sent_at = meta.Int("form_sent_at");
    entry.referer = meta.String("referer");
  }

  static const rapidjson::Value kNoLead(rapidjson::kObjectType);
  const rapidjson::Value* lead_item = &kNoLead;
  std::string lead_prefix = "_embedded.leads.0.";
  if (const rapidjson::Value* embedded = reader.NullableObject("_embedded")) {
    ItemReader embedded_reader(*embedded, "_embedded.", &errors);
    if (const rapidjson::Value* leads = embedded_reader.NullableArray("leads")) {
      if (leads->Size() > 1) {
        embedded_reader.Error(kCountCode, "leads",
                              "This collection should contain 1 element or less.");
      } else if (leads->Size() == 1 && !(*leads)[0].IsObject()) {
        embedded_reader.TypeError("leads.0", "object");
      } else if (leads->Size() == 1) {
        lead_item = &(*leads)[0];
      }
    }
    ReadAttached(store, embedded_reader, context, &out->attached);
  }
  std::vector<FieldError> lead_errors =
      BuildNewLeadFields(store, *lead_item, lead_prefix, context, &out->lead);
  errors.insert(errors.end(), lead_errors.begin(), lead_errors.end());
  // An incoming lead waits in its pipeline's incoming stage, whatever the item says.
  out->lead.pipeline_id = pipeline->id;
  const PipelineStatus* incoming = pipeline->incoming_status();
  out->lead.status_id = incoming != nullptr ? incoming->id : pipeline->first_regular_status_id();
  out->lead.closed_at.reset();
  out->lead.created_at = entry.created_at;
  entry.content_key = ContentKey(item, *out);
  return errors;
}

void WriteUnsortedMetadata(JsonWriter& w, const UnsortedEntry& entry) {
  Key(w, "metadata");
  w.StartObject();
  Key(w, "form_id");
  Str(w, entry.form_id);
  Key(w, "form_name");
  Str(w, entry.form_name);
  for (const auto& [key, value] :
       {std::pair<const char*, const std::optional<std::string>*>{"form_page", &entry.form_page},
        {"ip", &entry.ip}}) {
    Key(w, key);
    if (value->has_value()) {
      Str(w, **value);
    } else {
      w.Null();
    }
  }
  WriteOptionalId(w, "form_sent_at", entry.form_sent_at);
  Key(w, "referer");
  if (entry.referer.has_value()) {
    Str(w, *entry.referer);
  } else {
    w.Null();
  }
  w.EndObject();
}

// {"id":N[,"name":…][,"price":…],"_links":…} of an entity an incoming lead refers to.
void WriteRef(JsonWriter& w, const Hrefs& hrefs, std::string_view collection, int64_t id,
              const std::string* name, const int64_t* price) {
  w.StartObject();
  Key(w, "id");
  w.Int64(id);
  if (name != nullptr) {
    Key(w, "name");
    Str(w, *name);
  }
  if (price != nullptr) {
    Key(w, "price");
    w.Int64(*price);
  }
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/", AsAbsl(collection), "/", id));
  w.EndObject();
}

// "_embedded":{"leads":[…],"contacts":[…],"companies":[…]} of an entry; `names`: with the
// entities' names (and the lead's price), as the list shows them.
void WriteUnsortedEmbedded(JsonWriter& w, const Store& store, const Hrefs& hrefs,
                           const UnsortedEntry& entry, bool names) {
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "leads");
  w.StartArray();
  if (const auto lead = store.leads().find(entry.lead_id); lead != store.leads().end()) {
    WriteRef(w, hrefs, "leads", entry.lead_id, names ? &lead->second.name : nullptr,
             names ? &lead->second.price : nullptr);
  }
  w.EndArray();
  Key(w, "contacts");
  w.StartArray();
  if (entry.contact_id.has_value()) {
    const auto contact = store.contacts().find(*entry.contact_id);
    if (contact != store.contacts().end()) {
      WriteRef(w, hrefs, "contacts", *entry.contact_id, names ? &contact->second.name : nullptr,
               nullptr);
    }
  }
  w.EndArray();
  Key(w, "companies");
  w.StartArray();
  if (entry.company_id.has_value()) {
    const auto company = store.companies().find(*entry.company_id);
    if (company != store.companies().end()) {
      WriteRef(w, hrefs, "companies", *entry.company_id, names ? &company->second.name : nullptr,
               nullptr);
    }
  }
  w.EndArray();
  w.EndObject();
}

// An entry as GET /leads/unsorted shows it.
void WriteUnsortedEntry(JsonWriter& w, const Store& store, const Hrefs& hrefs,
                        const UnsortedEntry& entry) {
  w.StartObject();
  Key(w, "uid");
  Str(w, entry.uid);
  Key(w, "source_uid");
  Str(w, entry.source_uid);
  Key(w, "source_name");
  Str(w, entry.source_name);
  Key(w, "category");
  Str(w, entry.category);
  Key(w, "pipeline_id");
  w.Int64(entry.pipeline_id);
  Key(w, "created_at");
  w.Int64(entry.created_at);
  Key(w, "account_id");
  w.Int64(kAccountId);
  WriteUnsortedMetadata(w, entry);
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/leads/unsorted/", entry.uid));
  WriteUnsortedEmbedded(w, store, hrefs, entry, true);
  w.EndObject();
}

// 405 for a method or category Kommo does not take here: nginx's page, the way Kommo answers
// requests "sent wrong" to the incoming-leads paths.
HttpResponse SentWrong() { return NginxPage(405); }

}  // namespace

// --- POST /leads/complex
// ---------------------------------------------------------------------------

HttpResponse KommoApi::CreateComplexLeads(const Call& call) {
  rapidjson::Document doc;
  if (auto error = ParseBody(call.request.body, &doc)) return *error;
  if (!doc.IsArray()) return ProblemResponse(400, "Request body must be a JSON array");
  if (doc.Empty()) return ProblemResponse(400, "Request data cannot be blank");
  if (doc.Size() > static_cast<rapidjson::SizeType>(kMaxComplexItems)) {
    return ProblemResponse(
        400, absl::StrCat("Too many leads in one request: the limit is ", kMaxComplexItems));
  }
  const WriteContext context{Now(), call.user.id};
  std::vector<ComplexItem> valid;
  std::vector<ItemErrors> invalid;
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    ComplexItem item;
    item.request_id = RequestIdOf(doc[i], absl::StrCat(i));
    std::vector<FieldError> errors = ReadComplexItem(*store_, doc[i], context, &item);
    if (errors.empty()) {
      valid.push_back(std::move(item));
    } else {
      invalid.push_back(ItemErrors{item.request_id, std::move(errors)});
    }
  }
  if (!invalid.empty() && options_->batch_all_or_nothing) return ValidationFailed(invalid);

  // Duplicate control compares with contacts that existed before this request only.
  std::set<int64_t> made_here;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartArray();  // a bare array, not HAL
  for (ComplexItem& item : valid) {
    const std::optional<int64_t> company_id = SaveCompany(store_, &item.attached, call.changes);
    std::optional<int64_t> contact_id = item.attached.contact_id;
    bool merged = false;
    if (item.attached.new_contact.has_value()) {
      Contact& contact = *item.attached.new_contact;
      std::vector<Contact*> duplicates;
      if (store_->duplicate_control(item.lead.pipeline_id)) {
        duplicates = FindDuplicates(store_, contact, made_here);
      }
      if (!duplicates.empty() && duplicates.size() <= static_cast<size_t>(kMaxDuplicatesToMerge)) {
        Contact* oldest = duplicates.front();
        const Contact before = *oldest;
        AddMissingValues(*store_, contact, oldest);
        oldest->updated_at = context.now;
        oldest->updated_by = context.user_id;
        call.changes->Updated(before, *oldest);
        contact_id = oldest->id;
        merged = true;
      } else {
        contact_id = SaveNewContact(store_, std::move(contact), company_id, call.changes);
        made_here.insert(*contact_id);
      }
    }
    const int64_t lead_id =
        SaveLead(store_, std::move(item.lead), contact_id, company_id, call.changes);
    w.StartObject();
    Key(w, "id");
    w.Int64(lead_id);
    WriteOptionalId(w, "contact_id", contact_id);
    WriteOptionalId(w, "company_id", company_id);
    Key(w, "request_id");
    w.StartArray();
    Str(w, item.request_id);
    w.EndArray();
    Key(w, "merged");
    w.Bool(merged);
    w.EndObject();
  }
  w.EndArray();
  if (!invalid.empty()) return ValidationFailed(invalid);  // partial mode: valid ones were saved
  return Hal(Finish(buffer));
}

// --- /leads/unsorted
// -------------------------------------------------------------------------------

HttpResponse KommoApi::RouteUnsorted(const Call& call) {
  const Segments& s = call.segments;  // "leads", "unsorted", ...
  const std::string& method = call.request.method;
  const bool get = method == "GET";
  const bool post = method == "POST";
  if (s.size() == 2) return get ? ListUnsorted(call) : SentWrong();
  if (s.size() == 3) {
    if (s[2] == "summary") return get ? UnsortedSummary(call) : SentWrong();
    // Only forms (and sip, which the emulator does not implement) can be created through the API.
    if (s[2] == "forms") return post ? CreateUnsortedForms(call) : SentWrong();
    return get ? GetUnsorted(call, s[2]) : SentWrong();
  }
  if (s.size() == 4 && (s[3] == "accept" || s[3] == "decline")) {
    return post ? AcceptOrDeclineUnsorted(call, s[2], s[3] == "accept") : SentWrong();
  }
  return SentWrong();
}

std::string KommoApi::NewUnsortedUid() {
  static constexpr char kHex[] = "0123456789abcdef";
  while (true) {
    std::string uid(40, '0');
    for (char& c : uid) c = kHex[random_() & 15];
    if (store_->FindUnsorted(uid) == nullptr) return uid;
  }
}

HttpResponse KommoApi::CreateUnsortedForms(const Call& call) {
  rapidjson::Document doc;
  if (auto error = ParseBatch(call.request.body, &doc)) return *error;
  const WriteContext context{Now(), call.user.id};
  std::vector<FormItem> valid;
  std::vector<ItemErrors> invalid;
  std::set<std::string> keys_here;  // a batch may not repeat an entry either
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    FormItem item;
    item.request_id = RequestIdOf(doc[i], absl::StrCat(i));
    std::vector<FieldError> errors = ReadFormItem(*store_, doc[i], context, &item);
    if (errors.empty()) {
      const std::string& key = item.entry.content_key;
      const bool seen = keys_here.count(key) > 0 ||
                        std::any_of(store_->unsorted().begin(), store_->unsorted().end(),
                                    [&](const UnsortedEntry& e) { return e.content_key == key; });
      if (seen) {
        // Kommo refuses an identical entry; its exact answer is unknown (emulator's choice).
        errors.push_back(
            FieldError{"Duplicate", "source_uid", "An identical incoming lead was already added."});
      }
    }
    if (errors.empty()) {
      keys_here.insert(item.entry.content_key);
      valid.push_back(std::move(item));
    } else {
      invalid.push_back(ItemErrors{item.request_id, std::move(errors)});
    }
  }
  if (!invalid.empty() && options_->batch_all_or_nothing) return ValidationFailed(invalid);

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_total_items");
  w.Uint64(valid.size());
  WriteSelfLinks(w, absl::StrCat(call.hrefs.api_base, "/leads/unsorted/forms"));
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "unsorted");
  w.StartArray();
  for (FormItem& item : valid) {
    UnsortedEntry& entry = item.entry;
    entry.company_id = SaveCompany(store_, &item.attached, call.changes);
    entry.contact_id = item.attached.contact_id;
    if (item.attached.new_contact.has_value()) {
      entry.contact_id = SaveNewContact(store_, std::move(*item.attached.new_contact),
                                        entry.company_id, call.changes);
    }
    entry.lead_id =
        SaveLead(store_, std::move(item.lead), entry.contact_id, entry.company_id, call.changes);
    entry.uid = NewUnsortedUid();
    entry.sequence = store_->NextUnsortedSequence();
    w.StartObject();
    Key(w, "uid");
    Str(w, entry.uid);
    Key(w, "account_id");
    w.Int64(kAccountId);
    Key(w, "request_id");
    Str(w, item.request_id);
    WriteUnsortedEmbedded(w, *store_, call.hrefs, entry, false);
    w.EndObject();
    store_->unsorted().push_back(std::move(entry));
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  if (!invalid.empty()) return ValidationFailed(invalid);
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::AcceptOrDeclineUnsorted(const Call& call, std::string_view uid,
                                               bool accept) {
  UnsortedEntry* entry = store_->FindUnsorted(uid);
  // Kommo's answer for an unknown or already processed uid is not documented: 404 is the
  // emulator's choice.
  if (entry == nullptr || entry->state != UnsortedEntry::State::kPending) {
    return ProblemResponse(404, kUnsortedNotFound);
  }
  rapidjson::Document doc;
  if (absl::StripAsciiWhitespace(call.request.body).empty()) {
    doc.SetObject();
  } else {
    if (auto error = ParseBody(call.request.body, &doc)) return *error;
    if (!doc.IsObject()) return ProblemResponse(400, "Request body must be a JSON object");
  }
  std::vector<FieldError> errors;
  ItemReader reader(doc, "", &errors);
  const std::optional<int64_t> user_id = reader.Int("user_id");
  if (user_id.has_value() && store_->FindUser(*user_id) == nullptr) reader.ChoiceError("user_id");
  const Pipeline* pipeline = store_->FindPipeline(entry->pipeline_id);
  if (pipeline == nullptr) pipeline = &store_->main_pipeline();
  int64_t status_id = accept ? pipeline->first_regular_status_id() : kLostStatusId;
  if (accept) {
    if (const std::optional<int64_t> given = reader.Int("status_id")) {
      const PipelineStatus* status = pipeline->FindStatus(*given);
      if (status == nullptr || status->type == 1) {
        reader.ChoiceError("status_id");
      } else {
        status_id = *given;
      }
    }
  }
  if (!errors.empty()) return ValidationFailed({ItemErrors{RequestIdOf(doc, "0"), errors}});

  const int64_t now = Now();
  if (auto lead = store_->leads().find(entry->lead_id); lead != store_->leads().end()) {
    Lead& l = lead->second;
    const Lead before = l;
    l.status_id = status_id;
    l.closed_at = IsClosed(status_id) ? std::optional<int64_t>(now) : std::nullopt;
    if (user_id.has_value()) {
      l.responsible_user_id = *user_id;
      l.group_id = store_->FindUser(*user_id)->group_id;
    }
    l.updated_at = now;
    l.updated_by = user_id.value_or(call.user.id);
    call.changes->Updated(before, l);
  }
  entry->state = accept ? UnsortedEntry::State::kAccepted : UnsortedEntry::State::kDeclined;
  entry->processed_at = now;

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "uid");
  Str(w, entry->uid);
  Key(w, "account_id");
  w.Int64(kAccountId);
  WriteSelfLinks(w, absl::StrCat(call.hrefs.api_base, "/leads/unsorted/", entry->uid, "/",
                                 accept ? "accept" : "decline"));
  WriteUnsortedEmbedded(w, *store_, call.hrefs, *entry, false);
  w.EndObject();
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::ListUnsorted(const Call& call) {
  const ListParams p = ParseListParams(call.request.query);
  if (!p.raw_limit.empty()) {
    int limit = 0;
    if (!absl::SimpleAtoi(p.raw_limit, &limit) || limit < 1 || limit > kMaxPageLimit) {
      return ProblemResponse(400, absl::StrCat("limit must be from 1 to ", kMaxPageLimit));
    }
  }
  std::vector<const UnsortedEntry*> matches;
  for (const UnsortedEntry& entry : store_->unsorted()) {
    if (entry.state != UnsortedEntry::State::kPending || !p.TextFilter("uid").Matches(entry.uid) ||
        !p.Filter("pipeline_id").Matches(entry.pipeline_id) ||
        !p.TextFilter("category").Matches(entry.category)) {
      continue;
    }
    matches.push_back(&entry);
  }
  const bool descending = p.order_given ? p.descending : true;  // newest first by default
  std::stable_sort(matches.begin(), matches.end(),
                   [descending](const UnsortedEntry* a, const UnsortedEntry* b) {
                     const auto ka = std::make_pair(a->created_at, a->sequence);
                     const auto kb = std::make_pair(b->created_at, b->sequence);
                     return descending ? ka > kb : ka < kb;
                   });
  const PageRange page = PageOf(matches.size(), p);
  if (page.empty()) return NoContent();
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_page");
  w.Int(p.page);
  WritePageLinks(w, absl::StrCat(call.hrefs.api_base, "/leads/unsorted"), p,
                 page.end < matches.size());
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "unsorted");
  w.StartArray();
  for (size_t i = page.offset; i < page.end; ++i) {
    WriteUnsortedEntry(w, *store_, call.hrefs, *matches[i]);
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::GetUnsorted(const Call& call, std::string_view uid) {
  const UnsortedEntry* entry = store_->FindUnsorted(uid);
  if (entry == nullptr) return NoContent();
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteUnsortedEntry(w, *store_, call.hrefs, *entry);
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::UnsortedSummary(const Call& call) {
  const ListParams p = ParseListParams(call.request.query);
  int64_t total = 0;
  int64_t accepted = 0;
  int64_t declined = 0;
  int64_t forms = 0;
  int64_t sort_time = 0;
  for (const UnsortedEntry& entry : store_->unsorted()) {
    if (!p.Filter("pipeline_id").Matches(entry.pipeline_id) ||
        !p.TextFilter("uid").Matches(entry.uid)) {
      continue;
    }
    ++total;
    if (entry.category == kFormsCategory) ++forms;
    if (entry.state == UnsortedEntry::State::kAccepted) ++accepted;
    if (entry.state == UnsortedEntry::State::kDeclined) ++declined;
    if (entry.processed_at.has_value()) sort_time += *entry.processed_at - entry.created_at;
  }
  const int64_t processed = accepted + declined;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "total");
  w.Int64(total);
  Key(w, "accepted");
  w.Int64(accepted);
  Key(w, "declined");
  w.Int64(declined);
  Key(w, "average_sort_time");
  w.Int64(processed == 0 ? 0 : sort_time / processed);
  Key(w, "categories");
  w.StartObject();
  Key(w, kFormsCategory);
  w.Int64(forms);
  w.EndObject();
  WriteSelfLinks(w, absl::StrCat(call.hrefs.api_base, "/leads/unsorted/summary"));
  w.EndObject();
  return Hal(Finish(buffer));
}

}  // namespace kommo::emulator
