package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Agent reads GET /v1/agent: the agent and its interfaces, with the
// history their look-back rings hold. An answer other than 200 is a
// *StatusError.
func (c *Client) Agent(ctx context.Context) (AgentInfo, error) {
	var info AgentInfo
	code, b, err := c.do(ctx, http.MethodGet, "/v1/agent", nil)
	if err != nil {
		return info, err
	}
	if code != http.StatusOK {
		return info, &StatusError{Code: code, Msg: strings.TrimSpace(string(b))}
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("GET /v1/agent: %w", err)
	}
	return info, nil
}
