package fromconfig

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
)

// Lookback maps the [[interface]] tables with a lookback onto the agent's
// look-back rings, in file order.
func Lookback(cfg *config.Config) []agent.LookbackConfig {
	var out []agent.LookbackConfig
	for _, in := range cfg.Interfaces {
		if in.Lookback <= 0 {
			continue
		}
		snap := in.LookbackSnap
		if snap == 0 {
			snap = cfg.General.SnapLength
		}
		out = append(out, agent.LookbackConfig{Interface: in.Name, Bytes: in.Lookback, Snaplen: snap, Filter: in.LookbackFilter})
	}
	return out
}

// LookbackOptions are the look-back rings' options: promiscuous as the
// captures are ([general] promiscuous).
func LookbackOptions(cfg *config.Config, log *slog.Logger) agent.LookbackOptions {
	return agent.LookbackOptions{Log: log, Promiscuous: cfg.General.Promiscuous}
}

// CheckLookback checks what the look-back rings of cfg take: their whole
// rings (agent.LookbackRingBytes: the history and the kernel's room) must
// leave at least one capture's least ring (general.ringsize) of
// general.maxmemory. The error, a *config.ProblemsError, names the keys.
func CheckLookback(cfg *config.Config) error {
	var (
		sum  int64
		keys []string
	)
	for i, in := range cfg.Interfaces {
		if in.Lookback <= 0 {
			continue
		}
		snap := in.LookbackSnap
		if snap == 0 {
			snap = cfg.General.SnapLength
		}
		sum += agent.LookbackRingBytes(agent.LookbackConfig{Interface: in.Name, Bytes: in.Lookback, Snaplen: snap})
		keys = append(keys, fmt.Sprintf("interface[%d].lookback", i))
	}
	g := cfg.General
	if sum == 0 || sum <= g.MaxMemory-g.RingSize {
		return nil
	}
	return problems(cfg, &config.KeyError{Key: "general.maxmemory", Value: g.MaxMemory, Reason: fmt.Sprintf(
		"the look-back rings of %s take %d bytes (their history and the quarter and more the kernel needs free), "+
			"which leaves less than general.ringsize (%d) for captures: raise maxmemory or lower lookback",
		strings.Join(keys, ", "), sum, g.RingSize)})
}

// LookbackError names the key of a look-back ring the agent could not set
// up (an *agent.LookbackError: its filter does not compile for its
// interface): a *config.ProblemsError. Other errors are returned as they
// are.
func LookbackError(cfg *config.Config, err error) error {
	var le *agent.LookbackError
	if !errors.As(err, &le) {
		return err
	}
	var errs []error
	for _, e := range flatten(err) {
		if !errors.As(e, &le) {
			errs = append(errs, e)
			continue
		}
		key := "interface"
		for i, in := range cfg.Interfaces {
			if in.Name == le.Interface && in.Lookback > 0 {
				key = fmt.Sprintf("interface[%d].%s", i, lookbackKey(le.Field))
				break
			}
		}
		errs = append(errs, &config.KeyError{Key: key, Value: lookbackValue(cfg, le), Reason: le.Err.Error()})
	}
	return problems(cfg, errs...)
}

// lookbackValue is the configured value at fault in le.
func lookbackValue(cfg *config.Config, le *agent.LookbackError) any {
	for _, in := range cfg.Interfaces {
		if in.Name == le.Interface && le.Field == "filter" {
			return in.LookbackFilter
		}
	}
	return nil
}

// flatten returns the errors joined in err, or err alone.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// problems lists errs as the problems of cfg's file.
func problems(cfg *config.Config, errs ...error) error {
	name := cfg.File
	if name == "" {
		name = "defaults"
	}
	return &config.ProblemsError{File: name, Problems: errs}
}

// lookbackKey is the [[interface]] key of an agent.LookbackError's field.
func lookbackKey(field string) string {
	if field == "filter" {
		return "lookbackfilter"
	}
	return "name"
}
