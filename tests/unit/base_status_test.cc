// Status codes map onto the documented exit classes; reading the value of an error stops loudly.
#include "base/status.h"

#include <gtest/gtest.h>

namespace gemrun {
namespace {

TEST(Status, FaultClassesFollowTheExitCodes) {
  EXPECT_EQ(FaultClassOf(StatusCode::kOk), FaultClass::kNone);
  EXPECT_EQ(FaultClassOf(InvalidArgumentError("x").code()), FaultClass::kUsage);
  EXPECT_EQ(FaultClassOf(OutOfRangeError("x").code()), FaultClass::kUsage);
  // A file that is not a usable model is the model's fault (exit 2), not the user's flags.
  EXPECT_EQ(FaultClassOf(InvalidModelError("x").code()), FaultClass::kModelFile);
  EXPECT_EQ(FaultClassOf(NotFoundError("x").code()), FaultClass::kModelFile);
  EXPECT_EQ(FaultClassOf(DataLossError("x").code()), FaultClass::kModelFile);
  EXPECT_EQ(FaultClassOf(UnimplementedError("x").code()), FaultClass::kModelFile);
  EXPECT_EQ(FaultClassOf(InternalError("x").code()), FaultClass::kRuntime);
  EXPECT_EQ(FaultClassOf(ResourceExhaustedError("x").code()), FaultClass::kRuntime);
}

// A test that forgets ASSERT_TRUE(x.ok()) used to read an empty optional (undefined behaviour,
// often a silent pass); now it stops with the error's message.
TEST(StatusDeathTest, ValueOfAnErrorStops) {
  StatusOr<int> err = DataLossError("golden file missing");
  EXPECT_DEATH((void)*err, "golden file missing");
  EXPECT_DEATH((void)err.value(), "golden file missing");
  StatusOr<int> ok = 7;
  EXPECT_EQ(*ok, 7);
}

}  // namespace
}  // namespace gemrun
