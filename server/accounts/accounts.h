#ifndef KOMMO_SERVER_ACCOUNTS_ACCOUNTS_H_
#define KOMMO_SERVER_ACCOUNTS_ACCOUNTS_H_

// The Kommo accounts one deployment serves (KOMMO_ACCOUNTS_FILE, or the one account of the
// KOMMO_* settings, named "default"). Each account has its own KommoClient (its rate limit and
// budget, circuit, catalogue cache) and its own change stream (WatchHub); a call names its account
// in the `x-kommo-account` metadata, and holds it (shared ownership) until it ends, so that an
// account replaced or removed by a reload of the file serves the calls already on it to their end
// while new calls get the new one.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/event_loop.h"
#include "server/common/file_identity.h"
#include "server/config.h"
#include "server/http/http_transport.h"
#include "server/kommo/kommo_client.h"
#include "server/watch/shared_history.h"
#include "server/watch/watch_hub.h"

namespace kommo::accounts {

// The metadata key that names a call's account.
inline constexpr char kAccountMetadata[] = "x-kommo-account";

// One account as calls use it.
struct Account {
  AccountConfig config;
  rest::KommoClient* client = nullptr;
  // The account's change stream; null where there is none (then watching fails UNIMPLEMENTED).
  watch::WatchHub* watch_hub = nullptr;
  // What the account owns (null for an account over a client owned elsewhere). The hub goes
  // first: it polls through the client and writes to the shared history.
  std::unique_ptr<rest::KommoClient> owned_client;
  std::unique_ptr<watch::SharedHistory> owned_shared_history;
  std::unique_ptr<watch::WatchHub> owned_watch_hub;

  const std::string& name() const { return config.name; }
};

using AccountPtr = std::shared_ptr<Account>;

// Which account a call is for. Thread-safe.
class AccountDirectory {
 public:
  virtual ~AccountDirectory() = default;

  // The account named `name`; "" is the default account. INVALID_ARGUMENT (UNKNOWN_ACCOUNT,
  // metadata `account` when the name is a valid one, and `known_accounts`) otherwise.
  virtual absl::StatusOr<AccountPtr> Find(absl::string_view name) = 0;
  // Every account in force now, in the file's order.
  virtual std::vector<AccountPtr> All() = 0;
};

// One account, "default", over a client (and change stream) owned elsewhere: a server of a single
// account built by hand (tests, tools).
class SingleAccount final : public AccountDirectory {
 public:
  SingleAccount(rest::KommoClient* client, watch::WatchHub* watch_hub);
  absl::StatusOr<AccountPtr> Find(absl::string_view name) override;
  std::vector<AccountPtr> All() override { return {account_}; }

 private:
  AccountPtr account_;
};

// The error of a call naming no account it may use.
absl::Status UnknownAccount(absl::string_view asked, const std::vector<std::string>& known,
                            bool default_missing);

// Makes accounts and destroys them when the last call let go: on the loop thread, once their
// client has no request to Kommo under way (a write whose caller left still learns its outcome).
class AccountMaker : public std::enable_shared_from_this<AccountMaker> {
 public:
  struct Options {
    // What every account shares; the account's name, URL, token and budget are set over it.
    rest::KommoClientOptions client;
    watch::WatchOptions watch;
    bool with_watch = true;
    http::HttpTransport* transport = nullptr;
    EventLoop* loop = nullptr;
    // With REDIS_URL: the account's change history shared with the other replicas (a Redis stream
    // per account); null: each replica keeps its own.
    std::function<std::unique_ptr<watch::SharedHistory>(const std::string& account)> shared_history;
  };

  static std::shared_ptr<AccountMaker> Create(Options options);

  // A new account; its last owner hands it back here (AccountPtr's deleter).
  AccountPtr Make(const AccountConfig& config);

  // Destroys every account handed back and not destroyed yet. Only once the loop has stopped
  // (server shutdown); before that they go on the loop.
  void DestroyRetiredNow();
  // Accounts handed back and not destroyed yet.
  size_t retired() const;

 private:
  explicit AccountMaker(Options options) : options_(std::move(options)) {}
  void Retire(Account* account);
  // Loop thread: destroys the retired accounts that are idle; checks the others again later.
  void Sweep();

  const Options options_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Account>> retired_ ABSL_GUARDED_BY(mu_);
  // Loop thread only.
  EventLoop::TimerPtr sweep_timer_;
  bool sweeping_ = false;
};

struct AccountRegistryOptions {
  // The accounts file; "" when the accounts come from the KOMMO_* settings (never reloaded).
  std::string accounts_file;
  // Budgets of accounts that set none (KOMMO_RATE_LIMIT_RPS, KOMMO_RATE_LIMIT_BURST).
  double default_rps = 7;
  int default_burst = 1;
  // How often the file is checked for a change (a loop timer).
  absl::Duration reload_check_interval = absl::Seconds(1);
  // Makes an account (AccountMaker::Make, or a test's own).
  std::function<AccountPtr(const AccountConfig&)> make;
  // Loop the reload check runs on; null: only ReloadIfChanged() reloads.
  EventLoop* loop = nullptr;
};

// The accounts in force, reloaded when the file changes: accounts added, removed, and replaced
// when their settings changed (a changed token file alone is not a change: the account's token
// source reads the rotated token itself). A bad edit is logged and the accounts in force stay.
// Destroy it once the loop has stopped (its timer's task refers to it).
class AccountRegistry final : public AccountDirectory {
 public:
  static std::unique_ptr<AccountRegistry> Create(AccountRegistryOptions options,
                                                 const AccountsConfig& initial);
  ~AccountRegistry() override;

  absl::StatusOr<AccountPtr> Find(absl::string_view name) override;
  std::vector<AccountPtr> All() override;
  std::string default_account() const;

  // Reads the file again if it changed since it was last read; returns whether the accounts in
  // force changed. Any thread (the loop's timer calls it every reload_check_interval).
  bool ReloadIfChanged();
  // Stops the reload timer; loop thread, or any once the loop stopped.
  void StopReloading();

 private:
  explicit AccountRegistry(AccountRegistryOptions options) : options_(std::move(options)) {}
  // Puts `accounts` in force; `log_changes`: one line per account added, replaced or removed.
  void Apply(const AccountsConfig& accounts, bool log_changes);
  void ScheduleCheck();

  const AccountRegistryOptions options_;
  mutable absl::Mutex mu_;
  std::vector<AccountPtr> accounts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, AccountPtr, std::less<>> by_name_ ABSL_GUARDED_BY(mu_);
  std::string default_account_ ABSL_GUARDED_BY(mu_);
  absl::Mutex reload_mu_;
  FileIdentity stamp_ ABSL_GUARDED_BY(reload_mu_);
  // Loop thread only.
  EventLoop::TimerPtr check_timer_;
};

}  // namespace kommo::accounts

#endif  // KOMMO_SERVER_ACCOUNTS_ACCOUNTS_H_
