package redis

import (
	"testing"
	"time"
)

func TestDbg(t *testing.T) {
	srv := startServer(t, "requirepass s3cret")
	st := time.Now()
	_, err := Dial(Options{Addrs: []string{srv.addr()}, Password: "bad"})
	t.Log(time.Since(st), err)
}
