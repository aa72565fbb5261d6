package agent

import "errors"

// RequestChecker is implemented by sinks that can tell, before anything is
// captured, that they will refuse a request (an S3 bucket or endpoint
// override outside the allow-lists). Checking at admission keeps the agent
// from opening sockets and holding traffic it may not deliver.
type RequestChecker interface {
	Check(req Request) error
}

// checkSinks asks every sink that can whether it will take req. A refusal
// becomes a ValidationError naming the request field at fault when the sink's
// error says which (a RequestField() string method).
func checkSinks(sinks []Sink, req Request) error {
	for _, s := range sinks {
		c, ok := s.(RequestChecker)
		if !ok {
			continue
		}
		if err := c.Check(req); err != nil {
			var f interface{ RequestField() string }
			field := s.Name()
			if errors.As(err, &f) {
				field = f.RequestField()
			}
			return &ValidationError{Field: field, Reason: err.Error()}
		}
	}
	return nil
}
