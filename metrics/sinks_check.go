package metrics

import "github.com/pcapdaemon/pcapdaemon/agent"

// Check passes an admission check through to the measured sink, so that
// instrumenting a sink does not hide its agent.RequestChecker.
func (m *measuredSink) Check(req agent.Request) error {
	if c, ok := m.s.(agent.RequestChecker); ok {
		return c.Check(req)
	}
	return nil
}
