//go:build !unix

package argon2hash

import "os"

func pollable(f *os.File) *os.File { return f }
