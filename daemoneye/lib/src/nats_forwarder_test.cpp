// Which publish failures drop a message for good and which are retried
// (publish_failure_is_permanent): one refused message must not block every
// message behind it, and nothing an operator or time can fix may be dropped.
#include "nats_forwarder.hpp"

#include <gtest/gtest.h>

namespace airssys::daemoneye::detail {
namespace {

struct Case {
  natsStatus status;
  int code;  // jsErrCode, 0 for none
  bool permanent;
  const char* why;
};

TEST(NatsPublishFailure, PermanentOnlyWhenThisMessageCanNeverBeAccepted) {
  const Case cases[] = {
      {NATS_MAX_PAYLOAD, 0, true, "larger than the server's max_payload"},
      {NATS_ERR, JSStreamMessageExceedsMaximumErr, true, "larger than the stream's max message size"},
      {NATS_ERR, JSBadRequestErr, true, "the server calls the request malformed"},
      {NATS_ERR, JSInvalidJSONErr, true, "malformed"},
      {NATS_ERR, JSStreamWrongLastMsgIDErr, true, "an expectation that cannot change"},
      {NATS_ERR, JSStreamWrongLastSequenceErr, true, "an expectation that cannot change"},
      {NATS_INVALID_SUBJECT, 0, true, "a subject libnats refuses"},
      {NATS_TIMEOUT, 0, false, "no ack in time: retried, deduplicated by Msg-Id"},
      {NATS_NO_RESPONDERS, 0, false, "no stream yet: the operator creates it"},
      {NATS_CONNECTION_CLOSED, 0, false, "connection lost"},
      {NATS_NOT_YET_CONNECTED, 0, false, "not connected yet"},
      {NATS_ERR, JSStreamNotFoundErr, false, "no stream yet"},
      {NATS_ERR, JSStreamNotMatchErr, false, "another stream takes the subject: configuration"},
      {NATS_ERR, JSStreamStoreFailedErr, false, "stream full (discard new) or storage trouble"},
      {NATS_ERR, JSInsufficientResourcesErr, false, "server resources"},
      {NATS_ERR, JSStorageResourcesExceededErr, false, "storage resources"},
      {NATS_ERR, JSClusterNotAvailErr, false, "cluster temporarily unavailable"},
      {NATS_ERR, JSStreamSealedErr, false, "sealed: every message would go, the spool bound decides"},
      {NATS_ERR, JSNotEnabledErr, false, "JetStream off: configuration"},
      {NATS_NOT_PERMITTED, 0, false, "permissions: configuration"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(publish_failure_is_permanent(c.status, static_cast<jsErrCode>(c.code)), c.permanent)
        << natsStatus_GetText(c.status) << " / " << c.code << ": " << c.why;
  }
}

}  // namespace
}  // namespace airssys::daemoneye::detail
