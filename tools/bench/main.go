// Command bench is Cairn's load generator and its side-by-side comparison
// with etcd. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cairnkv/cairn/tools/bench/internal/cli"
	"github.com/cairnkv/cairn/tools/bench/internal/etcdchild"
	"github.com/cairnkv/cairn/tools/bench/internal/procs"
)

func main() {
	// compare re-executes this program as the etcd server under test.
	if os.Getenv(procs.EtcdChildEnv) == "1" {
		os.Exit(etcdchild.Main(os.Args[1:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
