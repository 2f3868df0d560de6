// Package jsonfile writes paroodise's JSON documents so that a reader never
// sees half of one: a crash leaves the old file or the new, whole.
package jsonfile

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// Save writes v as indented JSON to path through a temporary file and a
// rename, creating the directory with dirPerm if needed.
func Save(path string, v any, perm, dirPerm os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
