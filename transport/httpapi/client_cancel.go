package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Cancel cancels request id (DELETE /v1/captures/{id}): its captures end
// with stop reason cancelled and what they hold is delivered. An answer
// other than 204 is a *StatusError (wrapped): 404 when the daemon runs no
// request with that id.
func (c *Client) Cancel(ctx context.Context, id string) error {
	path := "/v1/captures/" + url.PathEscape(id)
	code, b, err := c.do(ctx, http.MethodDelete, path, nil)
	if err != nil {
		return fmt.Errorf("DELETE %s%s: %w", c.base, path, err)
	}
	if code == http.StatusNoContent {
		return nil
	}
	var reply struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &reply)
	msg := reply.Error
	if msg == "" {
		msg = strings.TrimSpace(string(b))
	}
	return fmt.Errorf("DELETE %s%s: %w", c.base, path, &StatusError{Code: code, Msg: msg})
}
