#include "server/accounts/accounts.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/error_details.h"
#include "server/common/log.h"
#include "server/kommo/token_source.h"

namespace kommo::accounts {
namespace {

// The names listed in an UNKNOWN_ACCOUNT error at most (in characters), so that its trailer
// stays small whatever the file holds.
constexpr size_t kMaxListedNames = 512;

// Whether an account's settings are the same, its token aside when it comes from a file (the
// account's token source reads a rotated token itself).
bool SameSettings(AccountConfig a, AccountConfig b) {
  if (!a.access_token_file.empty()) a.access_token.clear();
  if (!b.access_token_file.empty()) b.access_token.clear();
  return a == b;
}

}  // namespace

absl::Status UnknownAccount(absl::string_view asked, const std::vector<std::string>& known,
                            bool default_missing) {
  std::map<std::string, std::string> metadata;
  std::string message;
  if (default_missing) {
    message = absl::StrCat("the call names no account (", kAccountMetadata,
                           " metadata) and this server has no default account");
  } else if (ValidAccountName(asked)) {
    message = absl::StrCat("no Kommo account \"", asked, "\" on this server (", kAccountMetadata,
                           " metadata)");
    metadata["account"] = std::string(asked);
  } else {
    // Not echoed: it is not a name, and may be anything the caller sent.
    message =
        absl::StrCat("the ", kAccountMetadata,
                     " metadata is not an account name (1 to 64 letters, digits, '-' or '_')");
  }
  const std::string names = absl::StrJoin(known, ",");
  if (names.size() <= kMaxListedNames) {
    metadata["known_accounts"] = names;
    absl::StrAppend(&message, "; accounts: ", names);
  } else {
    absl::StrAppend(&message, "; ", known.size(), " accounts are served");
  }
  return MakeError(absl::StatusCode::kInvalidArgument, message, reason::kUnknownAccount, metadata);
}

SingleAccount::SingleAccount(rest::KommoClient* client, watch::WatchHub* watch_hub)
    : account_(std::make_shared<Account>()) {
  account_->client = client;
  account_->watch_hub = watch_hub;
}

absl::StatusOr<AccountPtr> SingleAccount::Find(absl::string_view name) {
  if (name.empty() || name == account_->name()) return account_;
  return UnknownAccount(name, {account_->name()}, /*default_missing=*/false);
}

// ---- AccountMaker -------------------------------------------------------------------------------

std::shared_ptr<AccountMaker> AccountMaker::Create(Options options) {
  return std::shared_ptr<AccountMaker>(new AccountMaker(std::move(options)));
}

AccountPtr AccountMaker::Make(const AccountConfig& config) {
  auto account = std::make_unique<Account>();
  account->config = config;
  rest::KommoClientOptions client = options_.client;
  client.account = config.name;
  client.api_base_url = config.api_base_url;
  client.access_token = config.access_token;
  client.token_source = nullptr;
  if (!config.access_token_file.empty()) {
    client.token_source =
        std::make_shared<rest::FileTokenSource>(config.access_token_file, config.access_token);
  }
  client.rate_limit_rps = config.rate_limit_rps;
  client.rate_limit_burst = config.rate_limit_burst;
  account->owned_client =
      rest::NewKommoClient(std::move(client), options_.transport, options_.loop);
  account->client = account->owned_client.get();
  if (options_.with_watch) {
    watch::WatchOptions watch = options_.watch;
    if (options_.shared_history) {
      account->owned_shared_history = options_.shared_history(config.name);
      watch.shared = account->owned_shared_history.get();
    }
    account->owned_watch_hub =
        std::make_unique<watch::WatchHub>(account->client, options_.loop, std::move(watch));
    account->watch_hub = account->owned_watch_hub.get();
  }
  std::weak_ptr<AccountMaker> maker = weak_from_this();
  return AccountPtr(account.release(), [maker](Account* retired) {
    if (std::shared_ptr<AccountMaker> alive = maker.lock()) {
      alive->Retire(retired);
    } else {
      delete retired;  // the maker is gone: the server is down, nothing runs on the loop
    }
  });
}

void AccountMaker::Retire(Account* account) {
  {
    absl::MutexLock lock(&mu_);
    retired_.emplace_back(account);
  }
  // Never inside the caller's stack: the last owner may be a callback of this very client.
  options_.loop->Post([maker = shared_from_this()] { maker->Sweep(); });
}

void AccountMaker::Sweep() {
  if (sweeping_) return;
  std::vector<Account*> candidates;
  {
    absl::MutexLock lock(&mu_);
    for (const std::unique_ptr<Account>& account : retired_) candidates.push_back(account.get());
  }
  if (candidates.empty()) return;
  sweeping_ = true;
  sweep_timer_.reset();
  auto pending = std::make_shared<size_t>(candidates.size());
  auto busy = std::make_shared<bool>(false);
  for (Account* account : candidates) {
    // No call holds it, so no stream watches it: its poller stops now.
    if (account->watch_hub != nullptr && !account->watch_hub->closing()) {
      account->watch_hub->Shutdown();
    }
    account->client->GetStats(
        [maker = shared_from_this(), account, pending, busy](rest::KommoClientStats stats) {
          if (stats.in_flight == 0) {
            std::unique_ptr<Account> idle;
            {
              absl::MutexLock lock(&maker->mu_);
              for (auto it = maker->retired_.begin(); it != maker->retired_.end(); ++it) {
                if (it->get() == account) {
                  idle = std::move(*it);
                  maker->retired_.erase(it);
                  break;
                }
              }
            }
            if (idle != nullptr) {
              log::Info("account retired: its last call ended", {{"account", idle->name()}});
              // GetStats' task does nothing with the client after this callback returns.
              idle.reset();
            }
          } else {
            *busy = true;
          }
          if (--*pending > 0) return;
          maker->sweeping_ = false;
          // Writes still under way on a retired account: look again in a second.
          if (*busy) {
            maker->sweep_timer_ = maker->options_.loop->RunAt(
                maker->options_.loop->Now() + absl::Seconds(1), [maker] { maker->Sweep(); });
          } else {
            maker->Sweep();  // retired while this sweep ran
          }
        });
  }
}

void AccountMaker::DestroyRetiredNow() {
  std::vector<std::unique_ptr<Account>> retired;
  {
    absl::MutexLock lock(&mu_);
    retired.swap(retired_);
  }
  sweep_timer_.reset();
  retired.clear();
}

size_t AccountMaker::retired() const {
  absl::MutexLock lock(&mu_);
  return retired_.size();
}

// ---- AccountRegistry ----------------------------------------------------------------------------

std::unique_ptr<AccountRegistry> AccountRegistry::Create(AccountRegistryOptions options,
                                                         const AccountsConfig& initial) {
  std::unique_ptr<AccountRegistry> registry(new AccountRegistry(std::move(options)));
  if (!registry->options_.accounts_file.empty()) {
    absl::MutexLock lock(&registry->reload_mu_);
    // The version read at start-up (a change between that read and this one is caught at the
    // next change: the identity only moves forward).
    IdentityOf(registry->options_.accounts_file, &registry->stamp_);
  }
  // Quietly: a start that fails says only why (the first stdout line names the accounts).
  registry->Apply(initial, /*log_changes=*/false);
  if (!registry->options_.accounts_file.empty() && registry->options_.loop != nullptr) {
    AccountRegistry* self = registry.get();
    registry->options_.loop->Post([self] { self->ScheduleCheck(); });
  }
  return registry;
}

AccountRegistry::~AccountRegistry() {
  check_timer_.reset();
  absl::MutexLock lock(&mu_);
  by_name_.clear();
  accounts_.clear();
}

void AccountRegistry::ScheduleCheck() {
  check_timer_ =
      options_.loop->RunAt(options_.loop->Now() + options_.reload_check_interval, [this] {
        ReloadIfChanged();
        ScheduleCheck();
      });
}

void AccountRegistry::StopReloading() { check_timer_.reset(); }

absl::StatusOr<AccountPtr> AccountRegistry::Find(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  const bool want_default = name.empty();
  auto it = by_name_.find(want_default ? absl::string_view(default_account_) : name);
  if (it != by_name_.end() && !(want_default && default_account_.empty())) return it->second;
  std::vector<std::string> known;
  known.reserve(accounts_.size());
  for (const AccountPtr& account : accounts_) known.push_back(account->name());
  return UnknownAccount(name, known, want_default);
}

std::vector<AccountPtr> AccountRegistry::All() {
  absl::MutexLock lock(&mu_);
  return accounts_;
}

std::string AccountRegistry::default_account() const {
  absl::MutexLock lock(&mu_);
  return default_account_;
}

void AccountRegistry::Apply(const AccountsConfig& accounts, bool log_changes) {
  std::vector<AccountPtr> next;
  std::map<std::string, AccountPtr, std::less<>> by_name;
  // Dropped outside the lock: the last reference hands the account to its maker.
  std::vector<AccountPtr> replaced;
  {
    absl::MutexLock lock(&mu_);
    for (const AccountConfig& config : accounts.accounts) {
      AccountPtr account;
      auto it = by_name_.find(config.name);
      if (it != by_name_.end() && SameSettings(it->second->config, config)) {
        account = it->second;  // unchanged: keeps its client, budget, circuit and history
      } else {
        account = options_.make(config);
        if (log_changes) {
          log::Info(it == by_name_.end() ? "account added"
                                         : "account replaced: new calls use "
                                           "its new settings",
                    {{"account", config.name},
                     {"api_base_url", config.api_base_url},
                     {"rate_limit_rps", config.rate_limit_rps},
                     {"rate_limit_burst", config.rate_limit_burst}});
        }
      }
      next.push_back(account);
      by_name.emplace(config.name, std::move(account));
    }
    for (const auto& [name, account] : by_name_) {
      if (log_changes && by_name.count(name) == 0) {
        log::Info("account removed: calls under way on it finish", {{"account", name}});
      }
    }
    for (AccountPtr& account : accounts_) replaced.push_back(std::move(account));
    accounts_ = std::move(next);
    by_name_ = std::move(by_name);
    default_account_ = accounts.default_account;
  }
}

bool AccountRegistry::ReloadIfChanged() {
  if (options_.accounts_file.empty()) return false;
  absl::MutexLock reload_lock(&reload_mu_);
  FileIdentity stamp;
  IdentityOf(options_.accounts_file, &stamp);
  if (stamp == stamp_) return false;
  stamp_ = stamp;  // a bad file is reported once, not on every check
  absl::StatusOr<AccountsConfig> accounts =
      LoadAccountsFile(options_.accounts_file, options_.default_rps, options_.default_burst);
  if (!accounts.ok()) {
    log::Error("accounts file not reloaded; the accounts in force stay",
               {{"error", accounts.status().message()}});
    return false;
  }
  Apply(*accounts, /*log_changes=*/true);
  log::Info("accounts file reloaded",
            {{"accounts", static_cast<unsigned long>(accounts->accounts.size())},
             {"default_account", accounts->default_account}});
  return true;
}

}  // namespace kommo::accounts
