package sshd

import (
	"context"
	"log"
	"os/signal"
	"strings"
	"syscall"

	"github.com/paroodise/paroodise/cli"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// Run is `paroodise sshd`: the server standalone, in the foreground,
// until SIGINT or SIGTERM.
func Run(stdio cli.IO, args []string) error {
	fs := cli.NewFlagSet(stdio, "paroodise sshd", "[flags]",
		"Serve SSH (public keys only; shell, exec and sftp) with the host's own keys until interrupted.")
	var cfg Config
	var listen, hostKeys, authKeys, users listFlag
	fs.Var(&listen, "listen", "`ADDR` to listen on (repeatable; default :22)")
	fs.Var(&hostKeys, "host-key", "private host key `FILE` (repeatable; default /etc/ssh/ssh_host_{ed25519,ecdsa,rsa}_key, else one generated in -state-dir)")
	fs.Var(&authKeys, "authorized-keys", "authorized_keys `FILE` (repeatable; default: what the host's sshd reads for this user)")
	fs.Var(&users, "user", "login `NAME` to accept (repeatable; default: the user the server runs as)")
	fs.StringVar(&cfg.StateDir, "state-dir", "/var/lib/paroodise", "`DIR` keeping the generated host key")
	fs.StringVar(&cfg.Shell, "shell", "/bin/sh", "`PATH` of the shell for logins and commands")
	fs.StringVar(&cfg.SSHDConfig, "sshd-config", "/etc/ssh/sshd_config", "sshd_config `FILE` read for AuthorizedKeysFile")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg.Listen, cfg.HostKeyFiles, cfg.AuthorizedKeysFiles, cfg.Users = listen, hostKeys, authKeys, users
	logger := log.New(stdio.Stderr, "sshd: ", log.LstdFlags)
	cfg.Logf = logger.Printf

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return Serve(ctx, cfg)
}
