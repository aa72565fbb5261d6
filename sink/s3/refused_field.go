package s3

// RequestField names the request field whose override was refused, so the
// agent can reject the request at admission with that field named.
func (e *RefusedError) RequestField() string { return e.Field }
