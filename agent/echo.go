package agent

// echo copies into res what the request gave to match its results with:
// alertid, tags and customer (nil req: nothing). Every Result of a
// request gets them, rejected ones included, so that an alerting system
// can match each result to the alert that asked for it.
func echo(res *Result, req *Request) {
	if req == nil {
		return
	}
	res.AlertID, res.Tags, res.Customer = req.AlertID, req.Tags, req.Customer
}
