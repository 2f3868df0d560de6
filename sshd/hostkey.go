package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// DefaultHostKeyFiles are the host's own OpenSSH keys, so that clients see
// the key they already trust.
var DefaultHostKeyFiles = []string{
	"/etc/ssh/ssh_host_ed25519_key",
	"/etc/ssh/ssh_host_ecdsa_key",
	"/etc/ssh/ssh_host_rsa_key",
}

// generatedKeyName is the key made when the host has none, kept in the
// state directory so it stays the same across restarts.
const generatedKeyName = "ssh_host_ed25519_key"

// loadHostKeys reads every file in files. Missing files are skipped when
// optional; other failures are logged and skipped, so one bad key does not
// cost the machine its only way in. With no key at all, an ed25519 key in
// stateDir is loaded or created.
func loadHostKeys(files []string, optional bool, stateDir string, logf func(string, ...any)) ([]gossh.Signer, error) {
	var signers []gossh.Signer
	for _, f := range files {
		s, err := readHostKey(f)
		if err != nil {
			if !(optional && errors.Is(err, fs.ErrNotExist)) {
				logf("host key %s skipped: %v", f, err)
			}
			continue
		}
		logf("host key %s %s", s.PublicKey().Type(), gossh.FingerprintSHA256(s.PublicKey()))
		signers = append(signers, s)
	}
	if len(signers) > 0 {
		return signers, nil
	}
	if stateDir == "" {
		return nil, errors.New("no usable host key and no state directory to keep a generated one")
	}
	s, created, err := hostKeyFileOrCreate(filepath.Join(stateDir, generatedKeyName))
	if err != nil {
		return nil, err
	}
	verb := "loaded"
	if created {
		verb = "generated"
	}
	logf("host key %s %s %s (%s)", verb, s.PublicKey().Type(), gossh.FingerprintSHA256(s.PublicKey()), filepath.Join(stateDir, generatedKeyName))
	return []gossh.Signer{s}, nil
}

func readHostKey(file string) (gossh.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s, err := gossh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	return s, nil
}

// hostKeyFileOrCreate loads file, or writes a new ed25519 key there
// (0600, renamed into place so a crash never leaves half a key).
func hostKeyFileOrCreate(file string) (gossh.Signer, bool, error) {
	s, err := readHostKey(file)
	if err == nil {
		return s, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("generate ed25519 host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "paroodise")
	if err != nil {
		return nil, false, fmt.Errorf("marshal host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, false, fmt.Errorf("mkdir %s: %w", filepath.Dir(file), err)
	}
	tmp := file + ".tmp"
	if err := writeSynced(tmp, pem.EncodeToMemory(block)); err != nil {
		return nil, false, err
	}
	if err := os.Rename(tmp, file); err != nil {
		return nil, false, fmt.Errorf("rename %s %s: %w", tmp, file, err)
	}
	s, err = gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, false, err
	}
	return s, true, nil
}

// writeSynced writes a 0600 file and syncs it, so a power cut after the
// rename cannot leave an empty key behind.
func writeSynced(file string, data []byte) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", file, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
