package agent

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Redelivery says that a capture the spool kept (the Sink given to
// WithSpool took it when every sink failed) has since reached sinks.
type Redelivery struct {
	ID        string // request id
	Node      string
	Interface string // as in the Capture (a merged capture's label)
	Packets   uint64
	Bytes     int64 // size of the file
	Started   time.Time
	Ended     time.Time
	// Spooled is the location the spool returned when it kept the
	// capture: the one its Result names.
	Spooled string
	// Locations are where the capture was delivered now.
	Locations []string
	// Pending maps each sink still owed the capture to its last failure;
	// empty when the spool is done with it.
	Pending map[string]string
}

// Redelivered updates the Results that name d.Spooled: they name the new
// locations instead (and still the spooled file while a sink is pending),
// a Result whose error was that its capture was spooled has status ok,
// and each updated Result is published again and kept for Lookup. For a
// request the agent no longer knows (the spool delivered it after a
// restart, or it left Lookup's history) one Result is made from d.
func (a *Agent) Redelivered(d Redelivery) {
	var updated []Result
	a.mu.Lock()
	r, known := a.store.get(d.ID)
	if known {
		for i := range r.results {
			if i < len(r.spooled) && applyRedelivery(&r.results[i], r.spooled[i], &d) {
				if len(d.Pending) == 0 {
					r.spooled[i] = ""
				}
				updated = append(updated, r.results[i])
			}
		}
		if len(updated) == 0 && r.phase != PhaseDone {
			// Delivered before the capture's Result was recorded: finish
			// applies it.
			r.early = append(r.early, d)
			a.mu.Unlock()
			return
		}
	}
	if len(updated) == 0 {
		res := Result{
			ID: d.ID, Node: d.Node, Interface: d.Interface, Status: StatusError,
			Packets: d.Packets, Bytes: uint64(max(d.Bytes, 0)), Started: d.Started, Ended: d.Ended,
			Locations: []string{d.Spooled},
		}
		applyRedelivery(&res, d.Spooled, &d)
		if known {
			r.results = append(r.results, res)
			r.spooled = append(r.spooled, "")
		} else {
			r = &request{id: d.ID, source: "spool", submitted: d.Started, phase: PhaseDone,
				ifaces: []string{d.Interface}, results: []Result{res}, spooled: []string{""}}
			a.store.add(r)
		}
		updated = append(updated, res)
	}
	done := r.phase == PhaseDone
	a.mu.Unlock()
	if done {
		a.indexPut(r)
	}
	for _, res := range updated {
		a.log.Info("spooled capture delivered: result updated", "id", res.ID, "interface", res.Interface,
			"status", res.Status, "locations", res.Locations, "pending", slices.Sorted(maps.Keys(d.Pending)))
		a.enqueue(res)
	}
}

// applyRedelivery updates res, whose capture spooled at d.Spooled reached
// d.Locations, and reports whether res names d.Spooled. spooled is the
// spool location behind res's error ("" when its error is another one,
// which stays).
func applyRedelivery(res *Result, spooled string, d *Redelivery) bool {
	i := slices.Index(res.Locations, d.Spooled)
	if i < 0 {
		return false
	}
	locs := append([]string(nil), res.Locations[:i]...)
	locs = append(locs, d.Locations...)
	if len(d.Pending) > 0 {
		locs = append(locs, d.Spooled)
	}
	res.Locations = append(locs, res.Locations[i+1:]...)
	if spooled != d.Spooled {
		return true
	}
	if res.Status == StatusError {
		res.Status = StatusOK
	}
	res.Error = ""
	if len(d.Pending) > 0 {
		var why []string
		for _, s := range slices.Sorted(maps.Keys(d.Pending)) {
			why = append(why, fmt.Sprintf("%s: %s", s, d.Pending[s]))
		}
		res.Error = "delivered from the spool; still spooled for " + strings.Join(why, "; ")
	}
	return true
}
