// Command cairn runs a Cairn member. It accepts etcd's flags and ETCD_*
// environment variables, so it can take the place of the etcd binary.
package main

import (
	"os"

	"github.com/cairnkv/cairn/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}
