// Package handoff is the contract between takeover and init: the state
// file takeover writes into the new root and init reads as PID 1.
package handoff

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/paroodise/paroodise/internal/jsonfile"
)

// Paths inside the new root.
const (
	Dir       = "/paroodise"
	StateFile = Dir + "/state.json"
)

// Version of the state document; init refuses documents it does not know.
const Version = 1

// State is what init needs to take over where takeover stopped.
type State struct {
	Version int `json:"version"`
	// Method is how PID 1 was handed over: reexec, soft-reboot, telinit,
	// or kernel when the kernel started paroodise as its init.
	Method    string    `json:"method"`
	OldInit   string    `json:"old_init,omitempty"` // e.g. "systemd 252"
	StartedAt time.Time `json:"started_at"`
	// ConfirmWithin is the dead-man deadline: with no login by then, init
	// reboots into the untouched old system. Zero disables it.
	ConfirmWithin  Duration `json:"confirm_within"`
	HostKeys       []string `json:"host_keys"`            // private key files, new-root paths
	AuthorizedKeys []string `json:"authorized_keys"`      // authorized_keys files, new-root paths
	Listen         []string `json:"listen"`               // e.g. [":22"]
	Network        string   `json:"network,omitempty"`    // netcfg JSON document, new-root path
	ReachHost      string   `json:"reach_host,omitempty"` // host:port to prove reachability
	// OldRoot is where the old / is mounted after pivot_root; empty when
	// the old init already unmounted it (soft-reboot).
	OldRoot string `json:"old_root,omitempty"`
	// OldRootDevice is the block device that was mounted at / ("/dev/vda1"
	// or "MAJ:MIN"), so that init can tell whether its disk is free even
	// when the old root is already unmounted (soft-reboot).
	OldRootDevice string `json:"old_root_device,omitempty"`
	// SparePIDs are the admin's processes (the session that ran
	// takeover) to keep alive until someone logs in to the new server.
	SparePIDs []int `json:"spare_pids,omitempty"`
}

// Duration is a time.Duration written as "10m0s" in JSON.
type Duration struct{ time.Duration }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// Load reads a state file.
func Load(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if s.Version != Version {
		return nil, fmt.Errorf("%s: state version %d, this paroodise reads %d", path, s.Version, Version)
	}
	return &s, nil
}

// Save writes the state file atomically.
func (s *State) Save(path string) error {
	s.Version = Version
	return jsonfile.Save(path, s, 0o600, 0o700)
}
