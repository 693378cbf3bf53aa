#include "server/kommo/circuit_breaker.h"

#include "gtest/gtest.h"

namespace kommo::rest {
namespace {

using Admission = CircuitBreaker::Admission;

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(CircuitBreakerTest, ClosedAdmitsEverything) {
  CircuitBreaker circuit(absl::Seconds(30));
  EXPECT_EQ(circuit.Admit(kStart, true), Admission::kAdmit);
  EXPECT_FALSE(circuit.open());
}

TEST(CircuitBreakerTest, ABlockRejectsUntilOneProbeMayGo) {
  CircuitBreaker circuit(absl::Seconds(30));
  EXPECT_TRUE(circuit.OnBlocked(kStart));
  EXPECT_FALSE(circuit.OnBlocked(kStart)) << "already open";
  EXPECT_EQ(circuit.Admit(kStart + absl::Seconds(29), true), Admission::kReject);
  EXPECT_EQ(circuit.Admit(kStart + absl::Seconds(30), false), Admission::kAdmit)
      << "a call may queue for its slot; it becomes the probe only when it is sent";
  EXPECT_EQ(circuit.Admit(kStart + absl::Seconds(30), true), Admission::kProbe);
  EXPECT_EQ(circuit.Admit(kStart + absl::Seconds(30), true), Admission::kReject)
      << "one probe at a time";
  circuit.OnProbeAnswered();
  EXPECT_FALSE(circuit.open());
  EXPECT_EQ(circuit.Admit(kStart + absl::Seconds(31), true), Admission::kAdmit);
}

TEST(CircuitBreakerTest, AFailedProbeWaitsAFullPeriodUnlessItWasCutShort) {
  CircuitBreaker circuit(absl::Seconds(30));
  circuit.OnBlocked(kStart);
  const absl::Time later = kStart + absl::Seconds(30);
  ASSERT_EQ(circuit.Admit(later, true), Admission::kProbe);
  circuit.OnProbeFailed(later, /*cut_short=*/false);
  EXPECT_EQ(circuit.Admit(later + absl::Seconds(29), true), Admission::kReject);
  ASSERT_EQ(circuit.Admit(later + absl::Seconds(30), true), Admission::kProbe);
  circuit.OnProbeFailed(later + absl::Seconds(30), /*cut_short=*/true);
  EXPECT_EQ(circuit.Admit(later + absl::Seconds(30), true), Admission::kProbe)
      << "a probe its caller cut short proved nothing: the next call probes";
}

}  // namespace
}  // namespace kommo::rest
