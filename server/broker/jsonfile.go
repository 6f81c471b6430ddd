package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// jsonFile persists one broker table as JSON. A write goes to a temporary
// file that is synced and renamed over the old one, and the previous
// version is kept as .bak, so a crash mid-write never leaves a torn table:
// load falls back to the backup when the main file is unreadable.
type jsonFile struct {
	path string
}

func newJSONFile(dir, name string) *jsonFile {
	return &jsonFile{path: filepath.Join(dir, name)}
}

// load decodes the file into v. found is false when neither the file nor
// its backup exists.
func (f *jsonFile) load(v any) (found bool, err error) {
	for _, p := range []string{f.path, f.path + ".bak"} {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("broker: read %s: %w", p, err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			if p == f.path {
				continue // torn or hand-edited: try the backup
			}
			return false, fmt.Errorf("broker: parse %s: %w", p, err)
		}
		return true, nil
	}
	if _, err := os.Stat(f.path); err == nil {
		return false, fmt.Errorf("broker: %s is corrupt and has no usable backup", f.path)
	}
	return false, nil
}

func (f *jsonFile) store(v any) error {
	data, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return fmt.Errorf("broker: encode %s: %w", f.path, err)
	}
	if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	tmp := f.path + ".tmp"
	if err := writeSynced(tmp, data); err != nil {
		return err
	}
	if _, err := os.Stat(f.path); err == nil {
		if err := os.Rename(f.path, f.path+".bak"); err != nil {
			return fmt.Errorf("broker: back up %s: %w", f.path, err)
		}
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("broker: replace %s: %w", f.path, err)
	}
	return nil
}

func writeSynced(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	_, werr := fh.Write(data)
	serr := fh.Sync()
	cerr := fh.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("broker: write %s: %w", path, err)
	}
	return nil
}
