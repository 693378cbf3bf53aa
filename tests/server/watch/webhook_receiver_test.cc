// The webhook receiver (server/watch/webhook_receiver.h): what it accepts, what it refuses, and
// how it reads Kommo's form-encoded deliveries. Real HTTP on 127.0.0.1 with libcurl.

#include "server/watch/webhook_receiver.h"

#include <curl/curl.h>

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kommo::watch {
namespace {

using ::testing::ElementsAre;

constexpr char kSecret[] = "s3cret-path-0123456789";

size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }

// POSTs (or GETs) `body` to the receiver; the HTTP status, 0 when none came.
long Send(int port, const std::string& path, const std::string& body, bool post = true) {
  CURL* curl = curl_easy_init();
  const std::string url = absl::StrCat("http://127.0.0.1:", port, path);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (post) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Discard);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  return status;
}

TEST(WebhookDeliveryTest, ReadsSeveralEntitiesOfKommosFormShape) {
  absl::StatusOr<WebhookDelivery> delivery = ParseWebhookDelivery(
      "leads%5Bstatus%5D%5B0%5D%5Bid%5D=31000000005&leads%5Bstatus%5D%5B0%5D%5Bstatus_id%5D=142"
      "&leads[status][0][old_status_id]=60000002&leads[status][1][id]=31000000006"
      "&contacts[update][0][id]=52000000001&contacts[update][0][name]=Ann+Lee"
      "&leads[delete][0][id]=31000000007&account[id]=3&account[subdomain]=acme");
  ASSERT_TRUE(delivery.ok()) << delivery.status();
  EXPECT_EQ(delivery->count(), 4u);
  EXPECT_THAT((delivery->entities[{"leads", "status"}]), ElementsAre(31000000005, 31000000006));
  EXPECT_THAT((delivery->entities[{"contacts", "update"}]), ElementsAre(52000000001));
  EXPECT_THAT((delivery->entities[{"leads", "delete"}]), ElementsAre(31000000007));
  EXPECT_EQ((delivery->entities.count({"account", "id"})), 0u);

  EXPECT_FALSE(ParseWebhookDelivery("leads[add][0][id]=%zz").ok());
  EXPECT_FALSE(ParseWebhookDelivery("leads[add][0][id]=5%2").ok());
  ASSERT_TRUE(ParseWebhookDelivery("").ok());
  EXPECT_EQ(ParseWebhookDelivery("junk&=&leads[add][x][id]=5&leads[add][0][id]=-1")->count(), 0u);
}

TEST(WebhookReceiverTest, AcceptsOnlyPostsToTheSecretPath) {
  std::mutex mutex;
  std::vector<size_t> counts;
  absl::StatusOr<std::unique_ptr<WebhookReceiver>> receiver =
      WebhookReceiver::Start({"127.0.0.1:0", kSecret, 4096}, [&](const WebhookDelivery& delivery) {
        std::lock_guard<std::mutex> lock(mutex);
        counts.push_back(delivery.count());
      });
  ASSERT_TRUE(receiver.ok()) << receiver.status();
  const int port = (*receiver)->port();
  ASSERT_GT(port, 0);
  const std::string path = absl::StrCat("/kommo/webhook/", kSecret);

  EXPECT_EQ(Send(port, path, "leads[add][0][id]=5&leads[add][1][id]=6"), 200);
  EXPECT_EQ(Send(port, "/kommo/webhook/wrong-secret-0123456789", "leads[add][0][id]=7"), 404);
  EXPECT_EQ(Send(port, "/kommo/webhook/", "leads[add][0][id]=7"), 404);
  EXPECT_EQ(Send(port, path + "x", "leads[add][0][id]=7"), 404);
  EXPECT_EQ(Send(port, "/", "leads[add][0][id]=7"), 404);
  EXPECT_EQ(Send(port, path, "", /*post=*/false), 405);
  EXPECT_EQ(Send(port, path, std::string(5000, 'a')), 413);
  EXPECT_EQ(Send(port, path, "leads[add][0][id]=%zz"), 200);  // answered; unreadable: dropped
  receiver->reset();                                          // waits for handlers under way
  EXPECT_THAT(counts, ElementsAre(2u));
}

TEST(WebhookReceiverTest, RefusesAnEmptySecretAndABadAddress) {
  EXPECT_FALSE(WebhookReceiver::Start({"127.0.0.1:0", ""}, nullptr).ok());
  EXPECT_FALSE(WebhookReceiver::Start({"127.0.0.1", kSecret}, nullptr).ok());
}

}  // namespace
}  // namespace kommo::watch
