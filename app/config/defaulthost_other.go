//go:build !linux

package config

import (
	"fmt"
	"runtime"
)

func detectDefaultHost() (string, error) {
	return "", fmt.Errorf("default host not supported on %s_%s", runtime.GOOS, runtime.GOARCH)
}
