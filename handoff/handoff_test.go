package handoff

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSaveLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "state.json")
	in := State{Method: "reexec", ConfirmWithin: Duration{10 * time.Minute}, HostKeys: []string{"/k"},
		AuthorizedKeys: []string{"/a"}, Listen: []string{":22"}, SparePIDs: []int{7},
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := in.Save(p); err != nil {
		t.Fatal(err)
	}
	out, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*out, in) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", *out, in)
	}
	os.WriteFile(p, []byte(`{"version": 99}`), 0o600)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("future version: %v", err)
	}
}
