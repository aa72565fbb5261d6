package request

import (
	"context"
	"fmt"

	"github.com/pcapdaemon/pcapdaemon/transport/sqs"
)

// snsRequest publishes on an SNS topic that every agent's own queue
// subscribes to, and reads the results queue the agents publish on.
type snsRequest struct {
	topic   *sqs.TopicClient
	arn     string
	results *sqs.Client // nil without a results queue
}

// openSNS connects to the topic, and to the results queue when there is
// one.
func (ts *Settings) openSNS(ctx context.Context) (*snsRequest, error) {
	q := ts.SQS
	topic, err := sqs.DialTopic(ctx, sqs.TopicConfig{TopicARN: ts.SNS.TopicARN, Region: q.Region, Endpoint: ts.SNS.Endpoint,
		AccessID: q.AccessID, AccessKey: q.AccessKey})
	if err != nil {
		return nil, err
	}
	r := &snsRequest{topic: topic, arn: ts.SNS.TopicARN}
	if q.ResultsURL != "" {
		// The results queue is the only queue this side reads.
		r.results, err = sqs.Dial(ctx, sqs.Config{QueueURL: q.ResultsURL, ResultsURL: q.ResultsURL, Endpoint: q.Endpoint,
			Protocol: q.Protocol, Region: q.Region, AccessID: q.AccessID, AccessKey: q.AccessKey})
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *snsRequest) publish(ctx context.Context, body []byte) (publishInfo, error) {
	mid, err := r.topic.Publish(ctx, body)
	if err != nil {
		return publishInfo{}, err
	}
	return publishInfo{receivers: -1, note: fmt.Sprintf("published on SNS topic %s as message %s", r.arn, mid)}, nil
}

func (r *snsRequest) listen(ctx context.Context, id string, ready func(), events chan<- any) error {
	if r.results == nil {
		ready()
		<-ctx.Done()
		return nil
	}
	return listenQueue(ctx, r.results, id, ready, events)
}

func (r *snsRequest) cancel(ctx context.Context, id string, msg []byte) (string, error) {
	mid, err := r.topic.Publish(ctx, msg)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("cancel of %s published on SNS topic %s as message %s", id, r.arn, mid), nil
}

func (r *snsRequest) close() {}
