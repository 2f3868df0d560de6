package jsonfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSave(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a", "b.json")
	if err := Save(p, map[string]int{"x": 1}, 0o600, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "{\n  \"x\": 1\n}\n" {
		t.Fatalf("%q %v", b, err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatal("temporary file left behind")
	}
	if err := Save(p, func() {}, 0o600, 0o700); err == nil {
		t.Fatal("unmarshalable value saved")
	}
}
