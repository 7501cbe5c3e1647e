package jwttoken

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ReadKeySetFile reads the JWK Set file at path (ParseKeySet).
func ReadKeySetFile(path string) (*KeySet, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the operator names the file
	if err != nil {
		return nil, err
	}
	set, err := ParseKeySet(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return set, nil
}

// WriteKeySetFile writes set to path atomically, readable by its owner
// only (0600): a reader sees the old file or the new one, never half of one.
func WriteKeySetFile(path string, set *KeySet) error {
	tmp, err := writeTemp(path, set)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// CreateKeySetFile writes set to path unless a file is there already: then
// it reads that one instead, which another process may just have written.
// created says which happened.
func CreateKeySetFile(path string, set *KeySet) (_ *KeySet, created bool, err error) {
	tmp, err := writeTemp(path, set)
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = os.Remove(tmp) }()
	// A hard link is created whole or not at all, and never replaces a file.
	if err := os.Link(tmp, path); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return nil, false, fmt.Errorf("write %s: %w", path, err)
		}
		existing, err := ReadKeySetFile(path)
		return existing, false, err
	}
	return set, true, syncDir(filepath.Dir(path))
}

// writeTemp writes set to a new 0600 file beside path and returns its name.
func writeTemp(path string, set *KeySet) (string, error) {
	data, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	// CreateTemp makes the file 0600 already; say it anyway.
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(append(data, '\n'))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return f.Name(), nil
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // the directory of the operator's key file
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
