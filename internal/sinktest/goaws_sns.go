package sinktest

import (
	"fmt"
	"strings"
	"testing"
)

// GoawsTopic is an SNS topic goaws serves, with the queues subscribed to
// it (goaws makes them). goaws's SNS: Publish hands the message to every
// subscribed queue at once, wrapped in an SNS envelope (Type
// "Notification", Message, TopicArn, a signature) unless the subscription
// is raw (RawMessageDelivery). Its topic ARNs have no region:
// arn:aws:sns::<account>:<name> (GoawsTopicARN).
type GoawsTopic struct {
	Name string
	// Queues are the names of the subscribed queues; Raw[i] sets raw
	// delivery for Queues[i] (missing: false).
	Queues []string
	Raw    []bool
}

// StartGoawsTopics is StartGoaws with SNS topics and their subscribed
// queues made at start.
func StartGoawsTopics(t testing.TB, ns, addr string, vis int, topics ...GoawsTopic) *Goaws {
	t.Helper()
	return startGoaws(t, ns, addr, vis, topics)
}

// GoawsTopicARN is the ARN goaws gives topic name.
func GoawsTopicARN(name string) string {
	return "arn:aws:sns::" + GoawsAccount + ":" + name
}

// topicsYAML is the "Topics:" part of goaws's configuration.
func topicsYAML(topics []GoawsTopic) string {
	if len(topics) == 0 {
		return "  Topics: []\n"
	}
	var b strings.Builder
	b.WriteString("  Topics:\n")
	for _, tp := range topics {
		fmt.Fprintf(&b, "    - Name: %s\n      Subscriptions:\n", tp.Name)
		for i, q := range tp.Queues {
			raw := i < len(tp.Raw) && tp.Raw[i]
			fmt.Fprintf(&b, "        - QueueName: %s\n          Raw: %t\n", q, raw)
		}
	}
	return b.String()
}
