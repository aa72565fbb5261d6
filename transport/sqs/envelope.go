package sqs

import (
	"bytes"
	"encoding/json"
)

// SNS delivers a message to a subscribed queue wrapped in a JSON envelope
// (Type, MessageId, TopicArn, Message, Timestamp, Signature, ...), unless
// the subscription sets RawMessageDelivery. An agent takes both: the
// envelope's Message is the request (or cancel) message, and the Guard
// checks it (size, signature) as if it had come alone. SNS's own
// signature over the envelope is not checked: the agent's HMAC ([security]
// hmackey) covers the message, from whichever queue it comes.

// snsNotification is the type of an SNS envelope that carries a message.
const snsNotification = "Notification"

// snsEnvelope is the part of an SNS envelope the agent reads.
type snsEnvelope struct {
	Type     string  `json:"Type"`
	TopicArn string  `json:"TopicArn"`
	Message  *string `json:"Message"`
}

// unwrapSNS reports whether body is an SNS envelope (a JSON object with a
// Type, a TopicArn and a Message string) and returns it decoded. A capture
// request has none of those fields, so a request is never taken for one.
func unwrapSNS(body []byte) (snsEnvelope, bool) {
	var e snsEnvelope
	if !bytes.Contains(body, []byte(`"TopicArn"`)) || json.Unmarshal(body, &e) != nil {
		return e, false
	}
	return e, e.Type != "" && e.TopicArn != "" && e.Message != nil
}
